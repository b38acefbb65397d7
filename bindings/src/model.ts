// Models, tokenizer, evaluation and generation over the model section of the C ABI.
import koffi from 'koffi';
import { pi5_kv_type, pi5_status, pi5_stop_reason, pi5Types, type Pi5Handle, type pi5_generate_options } from '../generated.js';
import { Pi5DisposedError, Pi5Error } from './errors.js';
import { native } from './native.js';
import type { Runtime } from './runtime.js';
import { applyChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
import { TokenDetokenizer } from './tokenizer.js';

export type KvTypeName = 'f16' | 'f32';

export interface LoadModelOptions {
  /** Context length in tokens (default: the model's, at most 4096). */
  contextSize?: number;
  /** Transformer layers on the GPU: -1 = all that fit (default), 0 = CPU only. */
  gpuLayers?: number;
  /** Most GPU memory the model may take, in bytes (default: no limit beyond the device's). */
  gpuBudgetBytes?: number | bigint;
  /** KV cache element type (default 'f16'). */
  kvType?: KvTypeName;
  /** Prompt tokens evaluated per step (default 64). */
  batchSize?: number;
  /** Load progress 0..1, delivered on the JS thread. */
  onProgress?: (progress: number) => void;
  /** Aborts the load (the promise rejects with PI5_ERR_ABORTED). */
  signal?: AbortSignal;
  /**
   * Read only the vocabulary (files without weights work): tokenize, detokenize and
   * tokenToBytes work; evaluation and generation reject with PI5_ERR_UNSUPPORTED.
   */
  vocabOnly?: boolean;
  /**
   * Keep the file memory-mapped while loaded (default true, as node-llama-cpp's `useMmap`).
   * false reads it into memory at load: then truncating or rewriting the file cannot fault.
   */
  useMmap?: boolean;
}

/** The parsed pi5_model_info JSON. Fields beyond these may appear. */
export interface ModelInfo {
  architecture: string;
  name: string;
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  n_ctx: number;
  n_ctx_train: number;
  kv_type: string;
  weight_types: Record<string, number>;
  tokenizer: { kind: string; bos: number | null; eos: number | null; add_bos?: boolean; [k: string]: unknown };
  n_gpu_layers: number;
  bytes_cpu: number;
  bytes_gpu: number;
  chat_template: string | null;
  /** true after a vocab-only load (then only n_vocab, n_ctx = 0 and tokenizer are meaningful). */
  vocab_only?: boolean;
  [k: string]: unknown;
}

export interface TokenizeOptions {
  /** Add BOS (and EOS) as the vocabulary asks (default true). */
  addSpecial?: boolean;
  /** Text like "<s>" or "<|im_start|>" becomes the special token (default false). */
  parseSpecial?: boolean;
}

export interface SamplingOptions {
  /** <= 0: greedy (default 0.8). */
  temperature?: number;
  /** 0 = off (default 40). */
  topK?: number;
  /** 1 = off (default 0.95). */
  topP?: number;
  /** 0 = off (default 0.05). */
  minP?: number;
  /** 1 = off (default). */
  repeatPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Recent tokens the penalties look at (-1 = the whole context). */
  penaltyLastN?: number;
  /** Same seed, settings and prompt: same output. Default (or -1): a random seed per call, reported in the result. */
  seed?: number | bigint;
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default 128; 0 = until end of generation or the context is full). */
  maxTokens?: number;
  /** Generation ends before the first of these strings (which is not emitted). */
  stop?: string[];
  /** Stops generation promptly; the stream ends with stopReason 'aborted'. */
  signal?: AbortSignal;
  /** true (default): clear the KV cache and start from BOS. false: continue the session. */
  reset?: boolean;
  /** For a string prompt: parse special-token text in it (default false). */
  parseSpecial?: boolean;
  /** With parseSpecial: add BOS as the vocabulary asks (default: when reset). */
  addSpecial?: boolean;
}

export type StopReason = 'none' | 'eog' | 'max_tokens' | 'stop_string' | 'aborted' | 'context_full';

/** Counts, timings and the stop reason of one generation. */
export interface GenerationResult {
  text: string;
  /** Generated token ids, in order. */
  tokens: number[];
  promptTokens: number;
  generatedTokens: number;
  promptMs: number;
  generateMs: number;
  /** Prompt tokens per second. */
  promptTokensPerSecond: number;
  /** Generated tokens per second. */
  tokensPerSecond: number;
  stopReason: StopReason;
  /** The seed in effect (the random one drawn when none was given): pass it back to reproduce the text. */
  seed: bigint;
}

const STOP_NAMES: Record<number, StopReason> = {
  [pi5_stop_reason.PI5_STOP_NONE]: 'none',
  [pi5_stop_reason.PI5_STOP_EOG]: 'eog',
  [pi5_stop_reason.PI5_STOP_MAX_TOKENS]: 'max_tokens',
  [pi5_stop_reason.PI5_STOP_STRING]: 'stop_string',
  [pi5_stop_reason.PI5_STOP_ABORTED]: 'aborted',
  [pi5_stop_reason.PI5_STOP_CONTEXT_FULL]: 'context_full',
};

function invalid(message: string): Pi5Error {
  return new Pi5Error(pi5_status.PI5_ERR_INVALID_ARGUMENT, message);
}

function intOpt(what: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`${what}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

/** A finite number in [min, max] (minOpen: min itself excluded); the message names the range. */
function numOpt(what: string, v: unknown, min = -Infinity, max = Infinity, minOpen = false): number | undefined {
  if (v === undefined) return undefined;
  const range = min === -Infinity && max === Infinity ? 'a finite number' : max === Infinity ? `a number ${minOpen ? '>' : '>='} ${min}` : `a number in ${minOpen ? '(' : '['}${min}, ${max}]`;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (minOpen && v === min)) throw invalid(`${what}: expected ${range}, got ${String(v)}`);
  return v;
}

/** Calls fn.async(...args) and resolves with its result. */
function callAsync<R>(fn: { async(...a: any[]): void }, ...args: unknown[]): Promise<R> {
  return new Promise<R>((resolve, reject) => fn.async(...args, (err: unknown, res: R) => (err ? reject(err) : resolve(res))));
}

const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);

/** @internal Loads a model on `rt` (Runtime.loadModel). */
export async function loadModelOn(rt: Runtime, path: string, options: LoadModelOptions): Promise<Model> {
  if (typeof path !== 'string' || path === '') throw invalid('loadModel: path must be a non-empty string');
  const n = native();
  const o = n.pi5_model_default_options();
  const ctx = intOpt('contextSize', options.contextSize, 0, 0xffffffff);
  const gpu = intOpt('gpuLayers', options.gpuLayers, -1, 0x7fffffff);
  const batch = intOpt('batchSize', options.batchSize, 0, 0xffffffff);
  if (ctx !== undefined) o.n_ctx = ctx;
  if (gpu !== undefined) o.n_gpu_layers = gpu;
  if (batch !== undefined) o.n_batch = batch;
  if (options.vocabOnly !== undefined) {
    if (typeof options.vocabOnly !== 'boolean') throw invalid(`vocabOnly: expected a boolean, got ${String(options.vocabOnly)}`);
    o.vocab_only = options.vocabOnly ? 1 : 0;
  }
  if (options.useMmap !== undefined) {
    if (typeof options.useMmap !== 'boolean') throw invalid(`useMmap: expected a boolean, got ${String(options.useMmap)}`);
    o.no_mmap = options.useMmap ? 0 : 1;
  }
  if (options.gpuBudgetBytes !== undefined) {
    const b = options.gpuBudgetBytes;
    if (!((typeof b === 'number' && Number.isInteger(b) && b >= 0) || (typeof b === 'bigint' && b >= 0n))) throw invalid(`gpuBudgetBytes: expected a non-negative integer, got ${String(b)}`);
    (o as any).gpu_budget_bytes = b;
  }
  if (options.kvType !== undefined) {
    const kv = { f16: pi5_kv_type.PI5_KV_F16, f32: pi5_kv_type.PI5_KV_F32 }[options.kvType];
    if (kv === undefined) throw invalid(`kvType: expected 'f16' | 'f32', got ${JSON.stringify(options.kvType)}`);
    o.kv_type = kv;
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw invalid('onProgress: expected a function');
  const signal = options.signal;
  signal?.throwIfAborted();
  let aborted = false;
  const onProgress = options.onProgress;
  // Always installed: it is how a load is aborted (signal, or dispose() of the runtime meanwhile).
  const cb = koffi.register((p: number) => {
    if (onProgress) try { onProgress(p); } catch { /* must not unwind through native frames */ }
    return aborted || signal?.aborted ? 1 : 0;
  }, koffi.pointer(pi5Types().pi5_progress_callback));
  o.progress_callback = cb;
  const state = rt.state;
  try {
    return await rt.exclusive('loadModel', () => { aborted = true; }, async (h) => {
      const status = await callAsync<number>(n.pi5_load_model_ex, h, path, o);
      state.modelSerial++; // the previous Model (if any) is gone either way: load replaces or fails
      if (status !== pi5_status.PI5_OK) {
        if (status === pi5_status.PI5_ERR_ABORTED && signal?.aborted) throw signal.reason ?? new Pi5Error(status, 'loadModel: aborted');
        rt.check(status, `cannot load ${path}`);
      }
      const info = JSON.parse(rt.readString((b, s, l) => n.pi5_model_info(h, b, s, l))) as ModelInfo;
      const special = (t: number | null | undefined) => (t == null || t < 0 ? '' : Buffer.from(tokenBytes(rt, h, t, true)).toString('utf8'));
      return new Model(rt, state.modelSerial, path, info, special(info.tokenizer?.bos), special(info.tokenizer?.eos), MODEL_TOKEN);
    });
  } finally {
    koffi.unregister(cb);
  }
}

const MODEL_TOKEN = Symbol('Model');

function tokenBytes(rt: Runtime, h: Pi5Handle<'pi5_runtime'>, token: number, special: boolean): Uint8Array {
  const n = native();
  let buf = Buffer.alloc(64);
  const len = new BigUint64Array(1);
  let status = n.pi5_token_to_piece(h, token, special ? 1 : 0, buf, buf.length, len);
  if (status === pi5_status.PI5_ERR_BUFFER_TOO_SMALL) {
    buf = Buffer.alloc(Number(len[0]) + 1);
    status = n.pi5_token_to_piece(h, token, special ? 1 : 0, buf, buf.length, len);
  }
  rt.check(status, 'tokenToBytes');
  return new Uint8Array(buf.subarray(0, Number(len[0])));
}

function tokenizeWith(rt: Runtime, h: Pi5Handle<'pi5_runtime'>, text: string, options: TokenizeOptions): Int32Array {
  if (typeof text !== 'string') throw invalid('tokenize: text must be a string');
  const n = native();
  const bytes = Buffer.from(text, 'utf8');
  const add = options.addSpecial === false ? 0 : 1;
  const parse = options.parseSpecial ? 1 : 0;
  const count = new BigUint64Array(1);
  let out = new Int32Array(Math.max(16, bytes.length + 2));
  let status = n.pi5_tokenize(h, bytes as any, bytes.length, add, parse, out, out.length, count);
  if (status === pi5_status.PI5_ERR_BUFFER_TOO_SMALL) {
    out = new Int32Array(Number(count[0]));
    status = n.pi5_tokenize(h, bytes as any, bytes.length, add, parse, out, out.length, count);
  }
  rt.check(status, 'tokenize');
  return out.slice(0, Number(count[0]));
}

/**
 * A model loaded on a Runtime (one per runtime). Create with `runtime.loadModel(path)`.
 *
 * ```ts
 * const model = await rt.loadModel('stories260K.gguf');
 * for await (const piece of model.generate('Once upon a time', { maxTokens: 32 })) process.stdout.write(piece);
 * ```
 */
export class Model {
  readonly runtime: Runtime;
  /** The path the model was loaded from. */
  readonly path: string;
  readonly #serial: number;
  #disposed = false;
  readonly #info: ModelInfo;
  readonly #bosText: string;
  readonly #eosText: string;

  /** @internal Use runtime.loadModel(). */
  constructor(rt: Runtime, serial: number, path: string, info: ModelInfo, bosText: string, eosText: string, token: symbol) {
    if (token !== MODEL_TOKEN) throw new TypeError('use runtime.loadModel()');
    this.runtime = rt;
    this.path = path;
    this.#serial = serial;
    this.#info = info;
    this.#bosText = bosText;
    this.#eosText = eosText;
  }

  #live(): void {
    if (this.#disposed || this.runtime.disposed || this.runtime.state.modelSerial !== this.#serial) throw new Pi5DisposedError('Model');
  }

  /** @internal Handle for a synchronous call. */
  #h(what: string): Pi5Handle<'pi5_runtime'> {
    this.#live();
    return this.runtime.syncHandle(`model.${what}`);
  }

  /** Handle for a tokenizer call: allowed while a generation or another call runs. */
  #tok(): Pi5Handle<'pi5_runtime'> {
    this.#live();
    return this.runtime.tokenizerHandle();
  }

  /** Whether this model is unusable: disposed, its runtime disposed, or another model loaded since. */
  get disposed(): boolean {
    return this.#disposed || this.runtime.disposed || this.runtime.state.modelSerial !== this.#serial;
  }

  /**
   * Makes this object unusable and unloads the native model (weights, KV cache, file mapping)
   * once the runtime's running calls have finished; the runtime can load another.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const rt = this.runtime;
    if (rt.disposed || rt.state.modelSerial !== this.#serial) return;
    const serial = this.#serial;
    void rt.exclusive('model.dispose', null, async (h) => {
      if (rt.state.modelSerial === serial) native().pi5_unload_model(h);
    }).catch(() => undefined);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Model information (architecture, sizes, tokenizer, placement, chat template). */
  get info(): ModelInfo {
    this.#live();
    return this.#info;
  }

  get nVocab(): number { return this.info.n_vocab; }
  get nEmbd(): number { return this.info.n_embd; }
  /** Context length in effect. */
  get contextSize(): number { return this.info.n_ctx; }
  /** Beginning-of-sequence token, or -1. */
  get bos(): number { return this.info.tokenizer?.bos ?? -1; }
  /** End-of-sequence token, or -1. */
  get eos(): number { return this.info.tokenizer?.eos ?? -1; }
  /** Whether `token` ends generation (EOS, EOT and the like). */
  isEog(token: number): boolean { return native().pi5_token_is_eog(this.#tok(), token) !== 0; }

  /** Token ids of `text`. */
  tokenize(text: string, options: TokenizeOptions = {}): Int32Array {
    return tokenizeWith(this.runtime, this.#tok(), text, options);
  }

  /** Number of tokens of `text` (without BOS/EOS unless options.addSpecial). */
  countTokens(text: string, options: TokenizeOptions = {}): number {
    return this.tokenize(text, { addSpecial: false, ...options }).length;
  }

  /** The raw bytes of one token (possibly an incomplete UTF-8 sequence: byte-fallback tokens). */
  tokenToBytes(token: number, options: { special?: boolean } = {}): Uint8Array {
    return tokenBytes(this.runtime, this.#tok(), token, !!options.special);
  }

  /** The text of one token (lossy for partial UTF-8; use a detokenizer for streams). */
  tokenToPiece(token: number, options: { special?: boolean } = {}): string {
    return Buffer.from(this.tokenToBytes(token, options)).toString('utf8');
  }

  /** Text of a token sequence (as llama.cpp's llama_detokenize). */
  detokenize(tokens: ArrayLike<number>): string {
    const h = this.#tok();
    const ids = Int32Array.from(tokens);
    return this.runtime.readString((b, s, l) => native().pi5_detokenize(h, ids, ids.length, b, s, l), Math.max(64, ids.length * 8));
  }

  /** A streaming detokenizer: push token ids, get text that is always complete UTF-8. */
  createDetokenizer(options: { special?: boolean } = {}): TokenDetokenizer {
    return new TokenDetokenizer((t) => this.tokenToBytes(t, options));
  }

  /** KV cache: `pos` (tokens held), `clear()`, `truncate(n)`. */
  get kv(): { readonly pos: number; clear(): void; truncate(nKeep: number): void } {
    const self = this;
    return {
      get pos() { return native().pi5_kv_pos(self.#h('kv.pos')); },
      clear() { self.runtime.check(native().pi5_kv_clear(self.#h('kv.clear')), 'kv.clear'); },
      truncate(nKeep: number) {
        intOpt('truncate', nKeep, 0, 0x7fffffff);
        self.runtime.check(native().pi5_kv_truncate(self.#h('kv.truncate'), nKeep), 'kv.truncate');
      },
    };
  }

  /** Runs a worker-thread call with this model live. */
  #exclusive<T>(what: string, abort: (() => void) | null, fn: (h: Pi5Handle<'pi5_runtime'>) => Promise<T>): Promise<T> {
    this.#live();
    return this.runtime.exclusive(`model.${what}`, abort, async (h) => {
      this.#live();
      return fn(h);
    });
  }

  /** Token ids now, or (text) a function that tokenizes inside the exclusive section. */
  #ids(input: string | ArrayLike<number>, what: string): (h: Pi5Handle<'pi5_runtime'>) => Int32Array {
    if (typeof input === 'string') return (h) => tokenizeWith(this.runtime, h, input, {});
    if (input == null || typeof (input as ArrayLike<number>).length !== 'number') throw invalid(`${what}: expected a string or token ids`);
    const ids = Int32Array.from(input);
    return () => ids;
  }

  /** @internal Tokenize inside an exclusive section. */
  tokenizeWith(h: Pi5Handle<'pi5_runtime'>, text: string, options: TokenizeOptions): Int32Array {
    return tokenizeWith(this.runtime, h, text, options);
  }

  /**
   * Evaluates tokens at the next positions of the KV cache (off the JS thread) and returns the
   * next-token logits (n_vocab floats) after the last one.
   */
  eval(tokens: ArrayLike<number>): Promise<Float32Array> {
    const getIds = this.#ids(tokens, 'eval');
    const logits = new Float32Array(this.#info.n_vocab);
    return this.#exclusive('eval', null, async (h) => {
      const ids = getIds(h);
      this.runtime.check(await callAsync<number>(native().pi5_eval, h, ids, ids.length, logits), 'eval');
      return logits;
    });
  }

  /**
   * Next-token logits for a prompt (text: tokenized with BOS) evaluated from a cleared KV cache.
   */
  infer(prompt: string | ArrayLike<number>): Promise<Float32Array> {
    const getIds = this.#ids(prompt, 'infer');
    const logits = new Float32Array(this.#info.n_vocab);
    return this.#exclusive('infer', null, async (h) => {
      const n = native();
      const ids = getIds(h);
      if (ids.length === 0) throw invalid('infer: the prompt has no tokens');
      this.runtime.check(n.pi5_kv_clear(h), 'infer');
      this.runtime.check(await callAsync<number>(n.pi5_eval, h, ids, ids.length, logits), 'infer');
      return logits;
    });
  }

  /** One step on an embedding (n_embd floats in place of a token embedding) at the next position; returns logits. */
  inferEmbedding(embedding: Float32Array): Promise<Float32Array> {
    if (!(embedding instanceof Float32Array) || embedding.length !== this.#info.n_embd) return Promise.reject(invalid(`inferEmbedding: expected a Float32Array of ${this.#info.n_embd} floats`));
    const logits = new Float32Array(this.#info.n_vocab);
    return this.#exclusive('inferEmbedding', null, async (h) => {
      this.runtime.check(await callAsync<number>(native().pi5_infer, h, embedding, logits), 'inferEmbedding');
      return logits;
    });
  }

  /** Saves the session (tokens evaluated and the KV cache rows in use). */
  saveState(path: string): Promise<void> {
    return this.#exclusive('saveState', null, async (h) => {
      this.runtime.check(await callAsync<number>(native().pi5_state_save, h, path), `saveState ${path}`);
    });
  }

  /** Restores a session saved by saveState with the same model. */
  loadState(path: string): Promise<void> {
    return this.#exclusive('loadState', null, async (h) => {
      this.runtime.check(await callAsync<number>(native().pi5_state_load, h, path), `loadState ${path}`);
    });
  }

  /**
   * Generates text after `prompt` (a string, or token ids evaluated as given). Iterate the
   * result for UTF-8-safe pieces as they are produced; `await stream.result` for the stats.
   */
  generate(prompt: string | ArrayLike<number>, options: GenerateOptions = {}): GenerationStream {
    this.#live();
    return new GenerationStream(this, prompt, options, STREAM_TOKEN);
  }

  /** Generates and returns the whole text. */
  async complete(prompt: string | ArrayLike<number>, options: GenerateOptions = {}): Promise<string> {
    return (await this.generate(prompt, options).result).text;
  }

  /** Renders messages with the model's chat template (or the plain fallback; see applyChatTemplate). */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    this.#live();
    return applyChatTemplate(messages, {
      template: this.#info.chat_template ?? undefined,
      bosToken: this.#bosText,
      eosToken: this.#eosText,
      ...options,
    });
  }

  /**
   * Chat: renders `messages` with the chat template, then generates the assistant's reply from a
   * cleared KV cache (special-token text in the rendered prompt is parsed).
   */
  chat(messages: ChatMessage[], options: GenerateOptions & ChatTemplateOptions = {}): GenerationStream {
    const text = this.applyChatTemplate(messages, options);
    // A template that writes the BOS text itself must not get a second BOS.
    const addSpecial = !(this.#bosText && text.startsWith(this.#bosText));
    const stop = [...(options.stop ?? [])];
    if (!this.#info.chat_template && !options.template) stop.push('\nUser:');
    return this.generate(text, { ...options, stop, reset: true, parseSpecial: true, addSpecial });
  }

  /** @internal */
  runExclusive<T>(what: string, abort: () => void, fn: (h: Pi5Handle<'pi5_runtime'>) => Promise<T>): Promise<T> {
    return this.#exclusive(what, abort, fn);
  }
}

const STREAM_TOKEN = Symbol('GenerationStream');

/**
 * A running generation: an AsyncIterable of text pieces (complete UTF-8), with the final
 * `result`. Breaking out of a for-await loop, `abort()` or the options' signal stop it promptly.
 */
export class GenerationStream implements AsyncIterable<string> {
  /** Resolves when generation ends (rejects on a native error). */
  readonly result: Promise<GenerationResult>;
  #pieces: string[] = [];
  #all: string[] = [];
  #wake: (() => void) | null = null;
  #done = false;
  #error: unknown = undefined;
  #aborted = false;
  #iterated = false;

  /** @internal Use model.generate(). */
  constructor(model: Model, prompt: string | ArrayLike<number>, options: GenerateOptions, token: symbol) {
    if (token !== STREAM_TOKEN) throw new TypeError('use model.generate()');
    this.result = this.#run(model, prompt, options);
    this.result.catch(() => undefined); // reported through iteration too; never unhandled here
  }

  /** Stops generation at the next token. */
  abort(): void {
    this.#aborted = true;
  }

  #push(piece: string): void {
    this.#pieces.push(piece);
    this.#all.push(piece);
    this.#wake?.();
  }

  async #run(model: Model, prompt: string | ArrayLike<number>, options: GenerateOptions): Promise<GenerationResult> {
    const n = native();
    const go = n.pi5_generate_default_options();
    const o = options;
    const maxTokens = intOpt('maxTokens', o.maxTokens, 0, 0x7fffffff);
    if (maxTokens !== undefined) go.max_tokens = maxTokens;
    const s = go.sampling;
    const set = <K extends keyof typeof s>(k: K, v: (typeof s)[K] | undefined) => { if (v !== undefined) s[k] = v; };
    set('temperature', numOpt('temperature', o.temperature, 0));
    set('top_k', intOpt('topK', o.topK, 0, 0x7fffffff));
    set('top_p', numOpt('topP', o.topP, 0, 1));
    set('min_p', numOpt('minP', o.minP, 0, 1));
    set('repeat_penalty', numOpt('repeatPenalty', o.repeatPenalty, 0, Infinity, true));
    set('frequency_penalty', numOpt('frequencyPenalty', o.frequencyPenalty));
    set('presence_penalty', numOpt('presencePenalty', o.presencePenalty));
    set('penalty_last_n', intOpt('penaltyLastN', o.penaltyLastN, -1, 0x7fffffff));
    if (o.seed !== undefined) {
      const random = o.seed === -1 || o.seed === -1n;
      if (!random && !((typeof o.seed === 'number' && Number.isSafeInteger(o.seed) && o.seed >= 0) || (typeof o.seed === 'bigint' && o.seed >= 0n && o.seed < 0xffffffffffffffffn))) throw invalid(`seed: expected -1 (random) or an integer in [0, 2^64-2], got ${String(o.seed)}`);
      (s as any).seed = random ? 0xffffffffffffffffn : o.seed;
    }
    if (o.stop !== undefined) {
      if (!Array.isArray(o.stop) || o.stop.some((x) => typeof x !== 'string' || x === '')) throw invalid('stop: expected an array of non-empty strings');
      if (o.stop.length) {
        (go as any).stop = o.stop;
        go.n_stop = o.stop.length;
      }
    }
    const reset = o.reset !== false;
    go.reset = reset ? 1 : 0;
    const signal = o.signal;
    const onAbort = () => { this.#aborted = true; };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) this.#aborted = true;

    const tokens: number[] = [];
    const cb = koffi.register((tok: number, ptr: unknown, len: number | bigint) => {
      if (tok >= 0) tokens.push(tok);
      const l = Number(len);
      if (l > 0) this.#push(Buffer.from(koffi.decode(ptr, 'uint8_t', l) as Uint8Array).toString('utf8'));
      return this.#aborted ? 1 : 0;
    }, koffi.pointer(pi5Types().pi5_token_callback));
    go.on_token = cb;

    // Token ids, or text with special tokens: evaluate them here, then continue the session.
    const fixedIds = typeof prompt === 'string' ? null : Int32Array.from(prompt);
    try {
      const text = await model.runExclusive('generate', () => { this.#aborted = true; }, async (h) => {
        const rt = model.runtime;
        const res: Record<string, number> = {};
        let promptMs = 0;
        let status: number;
        if (this.#aborted) {
          return { text: '', res: { stop_reason: pi5_stop_reason.PI5_STOP_ABORTED } as Record<string, number>, promptMs: 0, nPrompt: 0 };
        }
        const ids = fixedIds ?? (o.parseSpecial ? model.tokenizeWith(h, prompt as string, { addSpecial: o.addSpecial ?? reset, parseSpecial: true }) : null);
        if (ids) {
          if (reset) rt.check(n.pi5_kv_clear(h), 'generate');
          if (ids.length === 0 && n.pi5_kv_pos(h) === 0) throw invalid('generate: the prompt has no tokens');
          const t0 = performance.now();
          if (ids.length) rt.check(await callAsync<number>(n.pi5_eval, h, ids, ids.length, null), 'generate: prompt');
          promptMs = performance.now() - t0;
          go.reset = 0;
        }
        status = await callAsync<number>(n.pi5_generate, h, ids ? '' : (prompt as string), go, null, 0, null, res);
        if (status !== pi5_status.PI5_OK && status !== pi5_status.PI5_ERR_ABORTED) rt.check(status, 'generate');
        return { text: null as string | null, res, promptMs, nPrompt: ids ? ids.length : res.n_prompt_tokens };
      });
      const res = text.res;
      const all = this.#all.join('');
      const promptMs = text.promptMs || (res.prompt_ms ?? 0);
      const generateMs = res.generate_ms ?? 0;
      const generated = res.n_generated ?? 0;
      return {
        text: text.text ?? all,
        tokens,
        promptTokens: text.nPrompt ?? 0,
        generatedTokens: generated,
        promptMs,
        generateMs,
        promptTokensPerSecond: rate(text.nPrompt ?? 0, promptMs),
        tokensPerSecond: rate(generated, generateMs),
        stopReason: this.#aborted && res.stop_reason !== pi5_stop_reason.PI5_STOP_EOG && res.stop_reason !== pi5_stop_reason.PI5_STOP_MAX_TOKENS && res.stop_reason !== pi5_stop_reason.PI5_STOP_STRING
          ? 'aborted'
          : STOP_NAMES[res.stop_reason ?? 0] ?? 'none',
        seed: BigInt(res.seed ?? 0),
      };
    } catch (e) {
      this.#error = e;
      throw e;
    } finally {
      koffi.unregister(cb);
      signal?.removeEventListener('abort', onAbort);
      this.#done = true;
      this.#wake?.();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.#iterated) throw new Error('a GenerationStream can be iterated once');
    this.#iterated = true;
    let finished = false;
    try {
      for (;;) {
        if (this.#pieces.length) {
          yield this.#pieces.shift()!;
          continue;
        }
        if (this.#done) {
          if (this.#error !== undefined) throw this.#error;
          finished = true;
          return;
        }
        await new Promise<void>((r) => { this.#wake = r; });
        this.#wake = null;
      }
    } finally {
      if (!finished) this.#aborted = true; // the consumer broke out early
    }
  }

  /** The whole generated text. */
  async text(): Promise<string> {
    return (await this.result).text;
  }
}
