// Model files over the "Model files" section of the C ABI: inspect, convert (llama2.c, GGJT),
// quantize and synthesize GGUF files. Each call runs off the JS thread on the runtime (which
// only carries the error message; its loaded model is untouched).
import koffi from 'koffi';
import { pi5_status, pi5Types, type Pi5Handle } from '../generated.js';
import { Pi5Error } from './errors.js';
import { native } from './native.js';
import type { Runtime } from './runtime.js';

export interface FileToolOptions {
  /** Progress 0..1 (increasing, ending at 1), delivered on the JS thread. */
  onProgress?: (progress: number) => void;
  /** Aborts the work (the promise rejects; a partial output file is removed). */
  signal?: AbortSignal;
}

export type SynthArch = 'llama' | 'phi2' | 'gpt2';
export type SynthPreset = 'tiny' | 'tinyllama-1.1b' | 'llama2-7b' | 'mistral-7b';

export interface SynthOptions extends FileToolOptions {
  arch?: SynthArch;
  preset?: SynthPreset;
  /** ggml type name of the weight matrices ('F32' default, 'F16', 'Q8_0', 'Q4_K' ...). */
  weightType?: string;
  /** A GGUF whose tokenizer is copied (n_vocab follows it). */
  vocabPath?: string;
  seed?: number | bigint;
  /** Shape overrides (0 or absent: the preset's). */
  nEmbd?: number;
  nFf?: number;
  nLayer?: number;
  nHead?: number;
  nHeadKv?: number;
  nCtx?: number;
}

const invalid = (msg: string) => new Pi5Error(pi5_status.PI5_ERR_INVALID_ARGUMENT, msg, msg);

function str(what: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw invalid(`${what}: expected a non-empty string`);
  return v;
}

/** Runs a progress-reporting native call on `rt` off the JS thread. */
async function runTool(rt: Runtime, what: string, options: FileToolOptions, call: (h: Pi5Handle<'pi5_runtime'>, cb: koffi.IKoffiRegisteredCallback, done: (err: unknown, res: number) => void) => void): Promise<void> {
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw invalid(`${what}: onProgress must be a function`);
  const { onProgress, signal } = options;
  signal?.throwIfAborted();
  let aborted = false;
  const cb = koffi.register((p: number) => {
    if (onProgress) try { onProgress(p); } catch { /* must not unwind through native frames */ }
    return aborted || signal?.aborted ? 1 : 0;
  }, koffi.pointer(pi5Types().pi5_progress_callback));
  try {
    await rt.exclusive(what, () => { aborted = true; }, async (h) => {
      const status = await new Promise<number>((resolve, reject) => call(h, cb, (err, res) => (err ? reject(err) : resolve(res))));
      if (status === pi5_status.PI5_ERR_ABORTED && signal?.aborted) throw signal.reason ?? new Pi5Error(status, `${what}: aborted`);
      rt.check(status, what);
    });
  } finally {
    koffi.unregister(cb);
  }
}

/** The metadata and tensor table of a GGUF file as text (llama.cpp's gguf-dump layout). */
export function inspectGguf(rt: Runtime, path: string): string {
  const p = str('inspectGguf: path', path);
  const h = rt.syncHandle('inspectGguf');
  return rt.readString((buf, size, len) => native().pi5_gguf_inspect(h, p, buf, size, len), 16384);
}

/** Converts a llama2.c checkpoint and its tokenizer.bin to a GGUF llama model. */
export function convertLlama2c(rt: Runtime, checkpoint: string, tokenizer: string, outPath: string, options: FileToolOptions = {}): Promise<void> {
  const [c, t, o] = [str('checkpoint', checkpoint), str('tokenizer', tokenizer), str('outPath', outPath)];
  return runTool(rt, 'convertLlama2c', options, (h, cb, done) => native().pi5_convert_llama2c.async(h, c, t, o, cb, null, done));
}

/** Converts a GGJT (legacy ggml) llama model to GGUF. */
export function convertGgjt(rt: Runtime, inPath: string, outPath: string, options: FileToolOptions = {}): Promise<void> {
  const [i, o] = [str('inPath', inPath), str('outPath', outPath)];
  return runTool(rt, 'convertGgjt', options, (h, cb, done) => native().pi5_convert_ggjt.async(h, i, o, cb, null, done));
}

/** Requantizes an F32/F16 GGUF model: type 'Q4_K_M', 'Q8_0', 'Q4_0', 'Q6_K', 'F16' ... */
export function quantizeModel(rt: Runtime, inPath: string, outPath: string, type: string, options: FileToolOptions = {}): Promise<void> {
  const [i, o, t] = [str('inPath', inPath), str('outPath', outPath), str('type', type)];
  return runTool(rt, 'quantizeModel', options, (h, cb, done) => native().pi5_quantize_model.async(h, i, o, t, cb, null, done));
}

/** Writes a model with random weights of a preset's (optionally overridden) shape. */
export function synthModel(rt: Runtime, outPath: string, options: SynthOptions = {}): Promise<void> {
  const out = str('outPath', outPath);
  const o = native().pi5_synth_default_options() as any;
  if (options.arch !== undefined) o.arch = str('arch', options.arch);
  if (options.preset !== undefined) o.preset = str('preset', options.preset);
  if (options.weightType !== undefined) o.weight_type = str('weightType', options.weightType);
  if (options.vocabPath !== undefined) o.vocab_path = str('vocabPath', options.vocabPath);
  if (options.seed !== undefined) o.seed = options.seed;
  const shape = { nEmbd: 'n_embd', nFf: 'n_ff', nLayer: 'n_layer', nHead: 'n_head', nHeadKv: 'n_head_kv', nCtx: 'n_ctx' } as const;
  for (const [k, field] of Object.entries(shape)) {
    const v = (options as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw invalid(`synthModel: ${k} must be a non-negative integer`);
    o[field] = v;
  }
  return runTool(rt, 'synthModel', options, (h, cb, done) => {
    o.progress_callback = cb;
    native().pi5_synth_model.async(h, o, out, done);
  });
}
