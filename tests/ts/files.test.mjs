import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, LIB, MODEL, MODELS_DIR, needs } from './helpers.mjs';

process.env.PI5_LLM_RT_LIB = LIB;
const pkg = await import(join(ROOT, 'dist', 'index.js'));
const { Runtime, Pi5Error, pi5_status, inspectGguf, convertLlama2c, quantizeModel, synthModel } = pkg;

const CKPT = join(MODELS_DIR, 'stories260K.bin');
const TOK = join(MODELS_DIR, 'tok512.bin');
const VOCAB = join(MODELS_DIR, 'vocab', 'ggml-vocab-llama-spm.gguf');
const tmp = mkdtempSync(join(tmpdir(), 'pi5-files-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('model files: convert, synth, quantize, inspect, abort, errors', { skip: needs(MODEL, CKPT, TOK, VOCAB) }, async () => {
  const rt = await Runtime.create({ backend: 'cpu', threads: 2 });
  try {
    const progress = [];
    const out = join(tmp, 's.gguf');
    await convertLlama2c(rt, CKPT, TOK, out, { onProgress: (p) => progress.push(p) });
    assert.ok(progress.length >= 2);
    assert.deepEqual([...progress].sort((a, b) => a - b), progress);
    assert.equal(progress.at(-1), 1);
    assert.equal(readFileSync(out).length, readFileSync(MODEL).length);
    const text = inspectGguf(rt, out);
    assert.match(text, /blk\.0\.attn_q\.weight/);

    const f32 = join(tmp, 'tiny.gguf');
    await synthModel(rt, f32, { vocabPath: VOCAB, nEmbd: 256, nFf: 512, nHead: 8, nHeadKv: 4, seed: 3 });
    const q = join(tmp, 'tiny-q4km.gguf');
    await quantizeModel(rt, f32, q, 'Q4_K_M');
    assert.match(inspectGguf(rt, q), /Q4_K/);
    const model = await rt.loadModel(q, { contextSize: 64 });
    assert.equal(model.info.n_embd, 256);

    const ac = new AbortController();
    const aborted = join(tmp, 'aborted.gguf');
    await assert.rejects(quantizeModel(rt, f32, aborted, 'Q8_0', { signal: ac.signal, onProgress: (p) => { if (p > 0) ac.abort(); } }));
    assert.ok(!existsSync(aborted));

    await assert.rejects(quantizeModel(rt, f32, join(tmp, 'x.gguf'), 'Q3_X'), (e) => e instanceof Pi5Error && e.status === pi5_status.PI5_ERR_INVALID_ARGUMENT && /Q3_X/.test(e.message));
    await assert.rejects(synthModel(rt, join(tmp, 'x.gguf'), { arch: 'mamba' }), (e) => e.status === pi5_status.PI5_ERR_INVALID_ARGUMENT);
    assert.throws(() => inspectGguf(rt, join(tmp, 'missing.gguf')), (e) => e.status === pi5_status.PI5_ERR_IO);
    await assert.rejects(quantizeModel(rt, q, join(tmp, 'x.gguf'), 'Q8_0'), (e) => e.status === pi5_status.PI5_ERR_INVALID_MODEL && /already/.test(e.message));
  } finally {
    rt.dispose();
  }
});
