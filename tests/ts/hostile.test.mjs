// Hostile and unusual input through the TypeScript package (issue 14): each test reproduces a
// report of a crash, a silently wrong result or an unclear error.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, LIB, MODEL, NATIVE_CLI, childEnv, needs } from './helpers.mjs';

process.env.PI5_LLM_RT_LIB = LIB;
const pkg = await import(join(ROOT, 'dist', 'index.js'));
const { Runtime, Pi5Error } = pkg;

describe('hostile input on stories260K', { skip: needs(MODEL) }, () => {
  let rt, model;
  before(async () => {
    rt = await Runtime.create({ backend: 'cpu', threads: 2 });
    model = await rt.loadModel(MODEL, { contextSize: 256 });
  });
  after(() => rt?.dispose());

  test('tokenize, countTokens, isEog and detokenize work inside a for-await over generate()', async () => {
    const want = model.tokenize('Once upon a time');
    let n = 0;
    for await (const piece of model.generate('Once', { maxTokens: 12, temperature: 0 })) {
      assert.deepEqual(model.tokenize('Once upon a time'), want);
      assert.equal(model.countTokens(piece), model.tokenize(piece, { addSpecial: false }).length);
      assert.equal(model.isEog(model.eos), true);
      assert.equal(typeof model.detokenize(want), 'string');
      n++;
    }
    assert.ok(n > 0);
  });

  test('continuing with reset: false does not repeat the last token', async () => {
    const whole = (await model.generate('', { maxTokens: 30, temperature: 0 }).result).text;
    const a = (await model.generate('', { maxTokens: 12, temperature: 0 }).result).text;
    const b = (await model.generate('', { maxTokens: 18, temperature: 0, reset: false }).result).text;
    assert.equal(a + b, whole);
  });

  test('result.tokens holds every generated id, also those whose text was held back', async () => {
    const r = await model.generate('', { maxTokens: 120, temperature: 0, stop: ["Lily's mom"] }).result;
    assert.equal(r.tokens.length, r.generatedTokens);
  });

  test('sampling values out of range are rejected with the name and the range', async () => {
    const bad = [
      [{ topP: 2 }, /topP: expected a number in \[0, 1\], got 2/],
      [{ minP: 5 }, /minP: expected a number in \[0, 1\], got 5/],
      [{ repeatPenalty: 0 }, /repeatPenalty: expected a number > 0, got 0/],
      [{ repeatPenalty: -1 }, /repeatPenalty: expected a number > 0/],
      [{ temperature: NaN }, /temperature: expected a number >= 0, got NaN/],
      [{ temperature: Infinity }, /temperature: expected a number >= 0, got Infinity/],
      [{ frequencyPenalty: -Infinity }, /frequencyPenalty: expected a finite number/],
    ];
    for (const [opts, re] of bad) {
      await assert.rejects(model.generate('Once', { maxTokens: 1, ...opts }).result, (e) => e instanceof Pi5Error && re.test(e.message), JSON.stringify(opts));
    }
  });
});

const TS_CLI = join(ROOT, 'dist', 'cli.js');
const native = (args, opts = {}) => spawnSync(NATIVE_CLI, args, { env: childEnv(), encoding: 'utf8', timeout: 60_000, ...opts });

/** Starts a CLI generating "forever", sends SIGINT at the first output; resolves {code, stderr}. */
function interrupt(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    p.stdout.on('data', () => { if (!sent) { sent = true; p.kill('SIGINT'); } });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('no exit within 60 s')); }, 60_000);
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr }); });
  });
}

describe('hostile input through the CLIs', { skip: needs(MODEL) }, () => {
  const forever = ['--backend', 'cpu', '--model', MODEL, '--ctx', '4096', '-n', '0', '--temp', '1', '--top-k', '0', '--min-p', '0', '--top-p', '1', '--no-echo'];

  test('Ctrl-C stops generation, prints the summary and exits 130 (native and TS CLI)', async () => {
    for (const [cmd, pre] of [[NATIVE_CLI, []], [process.execPath, [TS_CLI]]]) {
      const r = await interrupt(cmd, [...pre, ...forever, '--prompt', 'Once']);
      assert.equal(r.code, 130, `${cmd}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
      assert.match(r.stderr, /generated \d+ tokens.*stop: interrupted/);
    }
  });

  test('out-of-range sampling flags are rejected with the name and range; --seed -1 is random and reported', () => {
    for (const [flag, value, re] of [['--top-p', '2', /top_p must be in \[0, 1\], got 2/], ['--min-p', '5', /min_p must be in \[0, 1\]/],
      ['--repeat-penalty', '0', /repeat_penalty must be a finite number > 0/], ['--repeat-penalty', '-1', /repeat_penalty/],
      ['--temp', 'nan', /temperature must be a finite number >= 0, got nan/], ['--temp', 'inf', /temperature .* got inf/]]) {
      const r = native(['--backend', 'cpu', '--model', MODEL, '-n', '4', flag, value]);
      assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    const seeds = [0, 1].map(() => {
      const r = native(['--backend', 'cpu', '--model', MODEL, '-n', '24', '--temp', '1', '--seed', '-1']);
      assert.equal(r.status, 0, r.stderr);
      return { seed: /seed: (\d+)/.exec(r.stderr)[1], text: r.stdout };
    });
    assert.notEqual(seeds[0].seed, seeds[1].seed);
    // The reported seed reproduces the text.
    const again = native(['--backend', 'cpu', '--model', MODEL, '-n', '24', '--temp', '1', '--seed', seeds[0].seed]);
    assert.equal(again.stdout, seeds[0].text);
  });

  test('an explicit device that does not exist is an error; a FIFO model path does not hang; head closing the pipe is quiet', () => {
    const dev = native(['--device', '99', '--model', MODEL, '-n', '2']);
    assert.notEqual(dev.status, 0, dev.stderr);
    assert.match(dev.stderr, /device '99'|no Vulkan device matches/);
    const tmp = mkdtempSync(join(tmpdir(), 'pi5-hostile-'));
    try {
      const fifo = join(tmp, 'model.gguf');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      const r = native(['--backend', 'cpu', '--model', fifo, '-n', '2'], { timeout: 20_000 });
      assert.equal(r.error, undefined, 'the CLI did not return (blocked in open?)');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /not a regular file/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const piped = spawnSync('bash', ['-c', `"${NATIVE_CLI}" --backend cpu --model "${MODEL}" -n 2000 --ctx 2048 --temp 0 | head -c 20 >/dev/null; echo "status=\${PIPESTATUS[0]}" >&2`], { env: childEnv(), encoding: 'utf8', timeout: 60_000 });
    assert.match(piped.stderr, /status=0/);
    assert.doesNotMatch(piped.stderr, /BrokenPipe/);
  });
});
