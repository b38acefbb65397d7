import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, LIB, MODEL, NATIVE_CLI, childEnv, needs } from './helpers.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'pi5-ts-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, env: childEnv(), encoding: 'utf8', ...opts });

function checkReportOutput(out) {
  assert.match(out, /^backend cpu$/m);
  const json = JSON.parse(out.slice(out.indexOf('{')));
  assert.equal(json.backend, 'cpu');
  assert.equal(json.device, null);
}

test('C example: dlopen/dlsym host compiled with cc', () => {
  const exe = join(tmp, 'report');
  run('cc', ['-Wall', '-Wextra', '-Werror', '-I', join(ROOT, 'include'), join(ROOT, 'examples/c/report.c'), '-ldl', '-o', exe]);
  const out = run(exe, ['cpu']);
  assert.match(out, /^library \d+\.\d+\.\d+ \(API \d+\.\d+\.\d+\)$/m);
  checkReportOutput(out);
});

test('Python example: ctypes over the generated declarations', () => {
  const out = run('python3', [join(ROOT, 'examples/python/report.py'), 'cpu']);
  assert.match(out, /^library \d+\.\d+\.\d+$/m);
  checkReportOutput(out);
});

test('TS example: runtime report', () => {
  const out = run(process.execPath, [join(ROOT, 'examples/ts/report.mjs'), 'cpu']);
  assert.match(out, /^backend cpu\ncpu \S+, \d+ threads\n$/);
});

test('CLI: info, --help, bad flags', () => {
  const cli = join(ROOT, 'dist/cli.js');
  const info = JSON.parse(run(process.execPath, [cli, 'info', '--backend', 'cpu', '--threads', '1']));
  assert.equal(info.backend, 'cpu');
  assert.match(run(process.execPath, [cli, '--help']), /--model FILE/);
  const bad = spawnSync(process.execPath, [cli, 'info', '--backend', 'gpu'], { env: childEnv(), encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /PI5_ERR_INVALID_ARGUMENT/);
  const missing = spawnSync(process.execPath, [cli, '--model', '/nonexistent/x.gguf', '--prompt', 'hi', '--backend', 'cpu'], { env: childEnv(), encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /PI5_ERR_IO/);
  const badNum = spawnSync(process.execPath, [cli, '-n', 'many'], { env: childEnv(), encoding: 'utf8' });
  assert.equal(badNum.status, 2);
  assert.match(badNum.stderr, /-n: expected an integer/);
});

/** The native CLI's generation output (stdout), or null when it cannot generate. */
function nativeGenerate(args) {
  const r = spawnSync(NATIVE_CLI, ['--backend', 'cpu', ...args], { env: childEnv(), encoding: 'utf8' });
  return r.status === 0 ? r.stdout : null;
}

const GEN_ARGS = ['--prompt', 'Once upon a time', '-n', '40', '--temp', '0.8', '--seed', '42'];

describe('generation from the default model', { skip: needs(MODEL) }, () => {
  test('CLI: no --model uses stories260K, streams, summary on stderr, output equals the native CLI', (t) => {
    const cli = join(ROOT, 'dist/cli.js');
    const r = spawnSync(process.execPath, [cli, '--backend', 'cpu', ...GEN_ARGS], { env: childEnv(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Once upon a time\S*[ ,]/);
    assert.match(r.stderr, /loading \[#+\] 100%/);
    assert.match(r.stderr, /generated 40 tokens in [\d.]+ ms \([\d.]+ tok\/s\), stop: max_tokens, backend: cpu/);
    const greedy = run(process.execPath, [cli, '--backend', 'cpu', '-n', '20', '--temp', '0', '--no-echo', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(greedy, /^Once upon a time, there was a little girl named Lily/);
    const native = nativeGenerate(GEN_ARGS);
    if (native === null) return t.skip(`${NATIVE_CLI} cannot generate: run scripts/zig.sh build`);
    assert.equal(r.stdout, native);
  });

  test('C example: dlopen host generates the same text as the native CLI', () => {
    const exe = join(tmp, 'generate');
    run('cc', ['-Wall', '-Wextra', '-Werror', '-I', join(ROOT, 'include'), join(ROOT, 'examples/c/generate.c'), '-ldl', '-o', exe]);
    const out = run(exe, ['', 'Once upon a time', '40', '0.8', '42'], { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /^Once upon a time, there was/);
    const native = nativeGenerate(GEN_ARGS);
    if (native !== null) assert.equal(out, native);
  });

  test('Python example: ctypes generation equals the native CLI', () => {
    const out = run('python3', [join(ROOT, 'examples/python/generate.py'), '', 'Once upon a time', '40', '0.8', '42'], { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /^Once upon a time, there was/);
    const native = nativeGenerate(GEN_ARGS);
    if (native !== null) assert.equal(out, native);
  });

  test('TS example: streaming generation with stats', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'examples/ts/generate.mjs'), '', 'Once upon a time', '24'], { cwd: ROOT, env: childEnv(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Once upon a time, there was .+\n$/);
    assert.match(r.stderr, /llama, 512 tokens, context \d+/);
    assert.match(r.stderr, /24 tokens, [\d.]+ tok\/s, stop: max_tokens/);
  });
});

test('TS example: custom graph matches plain JavaScript', () => {
  const out = run(process.execPath, [join(ROOT, 'examples/ts/graph.mjs')]);
  assert.match(out, /^y = (-?\d+\.\d{4} ){11}-?\d+\.\d{4}\n/);
  const err = Number(out.match(/max \|graph - js\| = (\S+)/)[1]);
  assert.ok(err <= 1e-4, out);
  assert.match(out, /profile: 3 nodes, \d+ ns/);
});

test('npm pack: the README example works from a clean directory', () => {
  const packDir = join(tmp, 'pack');
  const appDir = join(tmp, 'app');
  run('mkdir', ['-p', packDir, appDir]);
  // --ignore-scripts: dist/ is already built by pretest; prepack would rebuild it.
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir], { stdio: ['ignore', 'pipe', 'ignore'] });
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz')));
  const listing = run('tar', ['tzf', tarball]);
  for (const f of ['package/dist/index.js', 'package/dist/index.cjs', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/include/pi5_llm_rt.h']) {
    assert.ok(listing.includes(f), `${f} missing from the tarball`);
  }
  assert.ok(!listing.includes('package/node_modules'), 'tarball must not ship node_modules');
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('npm', ['install', '--prefer-offline', '--omit=optional', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const readme = readFileSync(join(ROOT, 'bindings/README.md'), 'utf8');
  const example = readme.match(/## Example\n\n```js\n([\s\S]*?)```/)[1];
  writeFileSync(join(appDir, 'example.mjs'), example);
  const out = run(process.execPath, ['example.mjs'], { cwd: appDir });
  assert.match(out, /^pi5-llm-rt \d+\.\d+\.\d+ on cpu: \S+, \d+ threads\nPI5_ERR_INVALID_ARGUMENT\n$/);
  // CommonJS consumers and the bin too.
  const cjs = run(process.execPath, ['-e', "const { Runtime } = require('pi5-llm-rt'); const r = Runtime.createSync({ backend: 'cpu' }); console.log(r.backend); r.dispose();"], { cwd: appDir });
  assert.equal(cjs, 'cpu\n');
  const bin = JSON.parse(run(join(appDir, 'node_modules/.bin/pi5-llm-rt'), ['info', '--backend', 'cpu'], { cwd: appDir }));
  assert.equal(bin.backend, 'cpu');
});
