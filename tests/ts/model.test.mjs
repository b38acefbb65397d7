import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, LIB, MODEL, BAD_MODEL, GOLDEN, NATIVE_CLI, needs, childEnv } from './helpers.mjs';

process.env.PI5_LLM_RT_LIB = LIB;
const pkg = await import(join(ROOT, 'dist', 'index.js'));
const { Runtime, Model, Pi5Error, Pi5DisposedError, Pi5BusyError, Utf8StreamDecoder, applyChatTemplate } = pkg;

const skip = needs(MODEL);
const tmp = mkdtempSync(join(tmpdir(), 'pi5-model-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('model API on stories260K', { skip }, () => {
  let rt, model;
  const progress = [];
  before(async () => {
    rt = await Runtime.create({ backend: 'cpu', threads: 2 });
    model = await rt.loadModel(MODEL, { contextSize: 512, onProgress: (p) => progress.push(p) });
  });
  after(() => rt?.dispose());

  test('load: progress on the JS thread, info, sizes', () => {
    assert.ok(model instanceof Model);
    assert.ok(progress.length >= 2, `progress calls: ${progress.length}`);
    assert.deepEqual([...progress].sort((a, b) => a - b), progress, 'progress never goes back');
    assert.equal(progress.at(-1), 1);
    assert.equal(model.info.architecture, 'llama');
    assert.equal(model.info.n_vocab, 512);
    assert.equal(model.nVocab, 512);
    assert.equal(model.nEmbd, 64);
    assert.equal(model.contextSize, 512);
    assert.equal(model.bos, 1);
    assert.equal(model.eos, 2);
    assert.ok(model.isEog(2));
    assert.ok(!model.isEog(100));
    assert.equal(model.info.chat_template, null);
  });

  test('tokenizer: tokenize/detokenize, counts, pieces, streaming detokenizer over byte-fallback tokens', () => {
    const ids = model.tokenize('Once upon a time');
    assert.ok(ids instanceof Int32Array);
    assert.equal(ids[0], 1, 'BOS first');
    assert.equal(model.tokenize('Once upon a time', { addSpecial: false }).length, ids.length - 1);
    assert.equal(model.countTokens('Once upon a time'), ids.length - 1);
    assert.equal(model.detokenize(ids.subarray(1)).trim(), 'Once upon a time');
    assert.equal(model.tokenToPiece(ids[1]).trim(), 'Once');
    assert.equal(model.tokenToPiece(1), '', 'control tokens render empty');
    assert.equal(model.tokenToPiece(1, { special: true }), '<s>');
    // Multi-byte text in a 512-token vocabulary: characters arrive as single-byte tokens.
    const text = 'héllo wörld 🙂 ok';
    const tokens = model.tokenize(text, { addSpecial: false });
    const split = [...tokens].filter((t) => { const b = model.tokenToBytes(t); return b.length === 1 && b[0] >= 0x80; });
    assert.ok(split.length >= 4, 'the emoji is spelled with byte tokens');
    const det = model.createDetokenizer();
    const pieces = [...tokens].map((t) => det.push(t));
    pieces.push(det.flush());
    for (const p of pieces) assert.ok(!p.includes('\uFFFD'), `piece ${JSON.stringify(p)} is whole UTF-8`);
    assert.equal(pieces.join('').trimStart(), text);
    assert.equal(model.detokenize(tokens).trimStart(), text);
  });

  test('Utf8StreamDecoder alone: split multi-byte characters come out whole', () => {
    const bytes = Buffer.from('a€🙂b', 'utf8');
    const d = new Utf8StreamDecoder();
    const out = [...bytes].map((b) => d.push(Uint8Array.of(b)));
    assert.deepEqual(out.filter(Boolean), ['a', '€', '🙂', 'b']);
    assert.equal(d.flush(), '');
    assert.equal(d.push(Uint8Array.of(0xe2, 0x82)), '');
    assert.equal(d.flush(), '\uFFFD');
  });

  test('greedy generation from BOS begins with llama2.c golden text', { skip: needs(GOLDEN) }, async () => {
    const golden = readFileSync(GOLDEN, 'utf8').split('\n=== ')[1].split('\n').slice(1).join('\n');
    const text = await model.complete('', { temperature: 0, maxTokens: 60 });
    assert.ok(text.length > 100, text);
    assert.ok(golden.startsWith(text), `got ${JSON.stringify(text)}\nexpected a prefix of ${JSON.stringify(golden.slice(0, 300))}`);
  });

  const nativeSupportsModel = () => {
    try {
      return /--model/.test(execFileSync(NATIVE_CLI, ['--help'], { encoding: 'utf8', env: childEnv() }));
    } catch {
      return false;
    }
  };

  test('generation equals the native CLI for the same seed and settings', async (t) => {
    if (!nativeSupportsModel()) return t.skip(`${NATIVE_CLI} missing or without --model: run scripts/zig.sh build`);
    const cases = [
      { prompt: 'Once upon a time', seed: 42, n: 48, temp: 0.8, extra: [] },
      { prompt: 'Lily', seed: 7, n: 40, temp: 1.0, extra: ['--top-k', '0', '--top-p', '0.9', '--repeat-penalty', '1.2'], opts: { topK: 0, topP: 0.9, repeatPenalty: 1.2 } },
      { prompt: '', seed: 0, n: 30, temp: 0, extra: [] },
    ];
    for (const c of cases) {
      const args = ['--model', MODEL, '--backend', 'cpu', '--ctx', '512', '--prompt', c.prompt, '--seed', String(c.seed), '-n', String(c.n), '--temp', String(c.temp), '--no-echo', ...c.extra];
      const nativeOut = execFileSync(NATIVE_CLI, args, { encoding: 'utf8', env: childEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
      const ours = await model.complete(c.prompt, { seed: c.seed, maxTokens: c.n, temperature: c.temp, ...c.opts });
      assert.equal(ours + '\n', nativeOut, JSON.stringify(c));
    }
  });

  test('streaming yields whole UTF-8 pieces whose join equals complete() and result.text', async () => {
    const opts = { maxTokens: 40, seed: 3, temperature: 0.9 };
    const stream = model.generate('The cat', opts);
    const pieces = [];
    for await (const p of stream) pieces.push(p);
    assert.ok(pieces.length > 5);
    for (const p of pieces) {
      assert.equal(typeof p, 'string');
      assert.ok(p.length > 0 && !p.includes('\uFFFD'));
      assert.equal(Buffer.from(p, 'utf8').toString('utf8'), p);
    }
    const r = await stream.result;
    assert.equal(pieces.join(''), r.text);
    assert.equal(r.text, await model.complete('The cat', opts));
    assert.equal(r.generatedTokens, 40);
    assert.equal(r.tokens.length, 40);
    assert.equal(r.stopReason, 'max_tokens');
    assert.equal(r.promptTokens, model.tokenize('The cat').length);
    assert.ok(r.tokensPerSecond > 0 && r.generateMs > 0);
    await assert.rejects(async () => { for await (const _ of stream); }, /iterated once/);
  });

  test('stop strings end generation before them', async () => {
    const full = await model.complete('', { temperature: 0, maxTokens: 30 });
    const stream = model.generate('', { temperature: 0, maxTokens: 30, stop: ['named'] });
    const r = await stream.result;
    assert.equal(r.stopReason, 'stop_string');
    assert.equal(r.text, full.slice(0, full.indexOf('named')));
  });

  test('AbortSignal stops generation within a few tokens; break and pre-aborted signals too', async () => {
    const ac = new AbortController();
    const stream = model.generate('Once upon a time', { maxTokens: 500, temperature: 0.8, signal: ac.signal });
    let seen = 0;
    for await (const _ of stream) if (++seen === 3) ac.abort();
    const r = await stream.result;
    assert.equal(r.stopReason, 'aborted');
    assert.ok(r.generatedTokens >= 3 && r.generatedTokens <= 6, `generated ${r.generatedTokens} after abort at 3`);

    const s2 = model.generate('Once', { maxTokens: 500 });
    let n = 0;
    for await (const _ of s2) if (++n === 2) break;
    const r2 = await s2.result;
    assert.equal(r2.stopReason, 'aborted');
    assert.ok(r2.generatedTokens <= 5, `generated ${r2.generatedTokens} after break at 2`);

    const r3 = await model.generate('Once', { signal: AbortSignal.abort() }).result;
    assert.equal(r3.stopReason, 'aborted');
    assert.equal(r3.generatedTokens, 0);
  });

  test('sync calls during a worker-thread call throw Pi5BusyError; calls queue', async () => {
    const stream = model.generate('Once', { maxTokens: 20 });
    const it = stream[Symbol.asyncIterator]();
    await it.next(); // generation is running on the worker thread now
    assert.throws(() => model.kv.pos, (e) => e instanceof Pi5BusyError && e.code === 'PI5_BUSY');
    const logits = model.infer('Once'); // queued behind the generation
    for (let r = await it.next(); !r.done; r = await it.next());
    assert.equal((await logits).length, 512);
    assert.equal((await stream.result).generatedTokens, 20);
  });

  test('infer/eval/kv/state: logits, continuation, truncate, save and restore', async () => {
    const logits = await model.infer('Once upon a time');
    assert.ok(logits instanceof Float32Array && logits.length === 512);
    assert.equal(model.kv.pos, 5);
    const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
    const greedy = await model.generate('Once upon a time', { temperature: 0, maxTokens: 1 }).result;
    assert.equal(argmax(logits), greedy.tokens[0], 'infer logits pick the greedy token');

    await model.infer('Once upon a time');
    const next = await model.eval([argmax(logits)]);
    assert.equal(model.kv.pos, 6);
    const statePath = join(tmp, 'session.bin');
    await model.saveState(statePath);
    model.kv.truncate(5);
    assert.equal(model.kv.pos, 5);
    const again = await model.eval([argmax(logits)]);
    assert.deepEqual(again, next, 'truncate + re-eval gives the same logits');
    model.kv.clear();
    assert.equal(model.kv.pos, 0);
    await model.loadState(statePath);
    assert.equal(model.kv.pos, 6);
    const cont = await model.generate(' and', { reset: false, temperature: 0, maxTokens: 5 }).result;
    assert.equal(cont.generatedTokens, 5);
    await assert.rejects(model.loadState(join(tmp, 'missing.bin')), (e) => e instanceof Pi5Error && e.code === 'PI5_ERR_IO');
  });

  test('chat: fallback transcript without a template, Jinja templates when given', async () => {
    const messages = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'A story about a cat.' }];
    assert.equal(model.applyChatTemplate(messages), 'System: You tell stories.\n\nUser: A story about a cat.\nAssistant:');
    const chatml = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    assert.equal(applyChatTemplate(messages, { template: chatml }),
      '<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nA story about a cat.<|im_end|>\n<|im_start|>assistant\n');
    const llama2 = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% endif %}{% endfor %}";
    assert.equal(model.applyChatTemplate([{ role: 'user', content: 'hi' }], { template: llama2 }), '<s>[INST] hi [/INST]');
    const reply = model.chat(messages, { temperature: 0, maxTokens: 24 });
    const pieces = [];
    for await (const p of reply) pieces.push(p);
    const r = await reply.result;
    assert.equal(pieces.join(''), r.text);
    assert.ok(r.generatedTokens > 0 && r.promptTokens === model.tokenize(model.applyChatTemplate(messages)).length);
  });

  test('invalid options are PI5_ERR_INVALID_ARGUMENT', async () => {
    for (const opts of [{ maxTokens: -1 }, { topK: 1.5 }, { temperature: NaN }, { stop: [''] }, { seed: -2 }, { seed: 2 ** 64 }]) {
      await assert.rejects(model.generate('x', opts).result, (e) => e instanceof Pi5Error && e.code === 'PI5_ERR_INVALID_ARGUMENT', JSON.stringify(opts));
    }
    await assert.rejects(rt.loadModel(MODEL, { kvType: 'q8' }), (e) => e.code === 'PI5_ERR_INVALID_ARGUMENT');
  });
});

describe('errors and lifetimes', { skip }, () => {
  test('a missing file is PI5_ERR_IO; a bad GGUF is PI5_ERR_INVALID_MODEL naming ffn_down', async (t) => {
    const rt = await Runtime.create({ backend: 'cpu' });
    try {
      await assert.rejects(rt.loadModel('/nonexistent/model.gguf'), (e) => e instanceof Pi5Error && e.code === 'PI5_ERR_IO' && /nonexistent/.test(e.message));
      if (needs(BAD_MODEL)) return t.skip(needs(BAD_MODEL));
      await assert.rejects(rt.loadModel(BAD_MODEL), (e) => e instanceof Pi5Error && e.code === 'PI5_ERR_INVALID_MODEL' && /ffn_down/.test(e.message) && /ffn_down/.test(e.nativeMessage));
    } finally {
      rt.dispose();
    }
  });

  test('dispose twice is safe; calls after dispose throw; a new load retires the old Model', async () => {
    const rt = await Runtime.create({ backend: 'cpu' });
    const m1 = await rt.loadModel(MODEL, { contextSize: 64 });
    const m2 = await rt.loadModel(MODEL, { contextSize: 128 });
    assert.ok(m1.disposed && !m2.disposed);
    assert.throws(() => m1.tokenize('a'), Pi5DisposedError);
    assert.equal(m2.contextSize, 128);
    m2.dispose();
    m2.dispose();
    assert.throws(() => m2.info, Pi5DisposedError);
    const m3 = await rt.loadModel(MODEL, { contextSize: 64 });
    rt.dispose();
    rt.dispose();
    assert.ok(m3.disposed);
    for (const call of [() => m3.tokenize('a'), () => m3.kv.pos, () => m3.generate('x'), () => m3.info]) assert.throws(call, Pi5DisposedError);
    await assert.rejects(rt.loadModel(MODEL), Pi5DisposedError);
  });

  test('dispose during generation stops it and frees the runtime when the call returns', async () => {
    const rt = await Runtime.create({ backend: 'cpu' });
    const m = await rt.loadModel(MODEL, { contextSize: 256 });
    const stream = m.generate('Once', { maxTokens: 0 });
    let n = 0;
    for await (const _ of stream) if (++n === 2) rt.dispose();
    assert.equal((await stream.result).stopReason, 'aborted');
    assert.ok(rt.disposed && m.disposed);
  });

  test('abort a load with a signal', async () => {
    const rt = await Runtime.create({ backend: 'cpu' });
    try {
      const ac = new AbortController();
      await assert.rejects(rt.loadModel(MODEL, { signal: ac.signal, onProgress: () => ac.abort(new Error('stop loading')) }), /stop loading/);
      await assert.rejects(rt.loadModel(MODEL, { signal: AbortSignal.abort() }), (e) => e.name === 'AbortError');
      const m = await rt.loadModel(MODEL, { contextSize: 32 });
      assert.equal(m.contextSize, 32);
    } finally {
      rt.dispose();
    }
  });
});
