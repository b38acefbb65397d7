import koffi from 'koffi';
import {
  pi5_backend, pi5_limits_profile, pi5_log_level, pi5_status, pi5Types,
  type Pi5Handle, type pi5_runtime_options,
} from '../generated.js';
import { Pi5BusyError, Pi5DisposedError, Pi5Error } from './errors.js';
import { loadModelOn, type LoadModelOptions, type Model } from './model.js';
import { createGraphOn, type Graph, type GraphOptions } from './graph.js';
import { loadLibrary, native } from './native.js';

export type BackendName = 'auto' | 'cpu' | 'vulkan';
export type LimitsName = 'env' | 'none' | 'v3dv';
export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

export interface RuntimeOptions {
  /** 'auto' (default: PI5_BACKEND, else Vulkan with a CPU fallback), 'cpu', or 'vulkan' (no fallback). */
  backend?: BackendName;
  /** Vulkan device index or case-insensitive name substring (default: PI5_DEVICE, else the best device). */
  device?: string | number;
  /** Limits profile: 'env' (PI5_LIMITS; default), 'none', or 'v3dv' (behave like the Raspberry Pi 5). */
  limits?: LimitsName;
  /** Khronos validation layer on/off (default: PI5_VALIDATE). */
  validate?: boolean;
  /** Longest wait for one GPU submission, in milliseconds (default 5000). */
  timeoutMs?: number;
  /** CPU threads (default: every core). */
  threads?: number;
  /** Messages at or below this level reach onLog (default 'warn'; PI5_LOG also sets it). */
  logLevel?: LogLevelName;
  /** Receives log messages; without it they go to stderr. */
  onLog?: (level: LogLevelName, message: string) => void;
}

/** The parsed pi5_runtime_report JSON. Fields beyond these may appear. */
export interface RuntimeReport {
  version: string;
  backend: 'cpu' | 'vulkan';
  fallback_reason: string | null;
  cpu: { arch: string; threads: number; simd_bytes: number; [k: string]: unknown };
  validation: boolean;
  device: null | { name: string; [k: string]: unknown };
  [k: string]: unknown;
}

const BACKENDS: Record<BackendName, number> = { auto: pi5_backend.PI5_BACKEND_AUTO, cpu: pi5_backend.PI5_BACKEND_CPU, vulkan: pi5_backend.PI5_BACKEND_VULKAN };
const LIMITS: Record<LimitsName, number> = { env: pi5_limits_profile.PI5_LIMITS_FROM_ENV, none: pi5_limits_profile.PI5_LIMITS_NONE, v3dv: pi5_limits_profile.PI5_LIMITS_V3DV };
const LEVELS: Record<LogLevelName, number> = { error: pi5_log_level.PI5_LOG_ERROR, warn: pi5_log_level.PI5_LOG_WARN, info: pi5_log_level.PI5_LOG_INFO, debug: pi5_log_level.PI5_LOG_DEBUG };
const LEVEL_NAMES = Object.fromEntries(Object.entries(LEVELS).map(([k, v]) => [v, k])) as Record<number, LogLevelName>;

function invalid(message: string): Pi5Error {
  return new Pi5Error(pi5_status.PI5_ERR_INVALID_ARGUMENT, message);
}

function pick<T extends string>(what: string, value: unknown, table: Record<T, number>): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && Object.hasOwn(table, value)) return table[value as T];
  throw invalid(`${what}: expected ${Object.keys(table).map((k) => `'${k}'`).join(' | ')}, got ${JSON.stringify(value)}`);
}

function int(what: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${what}: expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Native state of one runtime, shared with the finalizer (no reference back to the Runtime). */
export interface RuntimeState {
  handle: Pi5Handle<'pi5_runtime'> | null;
  logCallback: koffi.IKoffiRegisteredCallback | null;
  /** dispose() was called (the handle may live on until a running native call returns). */
  closed: boolean;
  /** Name of the native call running on a worker thread, if any. */
  busy: string | null;
  /** Stops the running call at its next callback (generation, load progress). */
  abortBusy: (() => void) | null;
  /** Tail of the queue of worker-thread calls (one at a time per runtime). */
  queue: Promise<unknown>;
  /** Bumped on every model load: a Model object is valid while its serial matches. */
  modelSerial: number;
  /** Graph handles to destroy before the runtime. */
  graphs: Set<{ destroy(): void }>;
}

function destroyState(state: RuntimeState): void {
  for (const g of [...state.graphs]) g.destroy();
  state.graphs.clear();
  if (state.handle) native().pi5_destroy_runtime(state.handle);
  state.handle = null;
  if (state.logCallback) koffi.unregister(state.logCallback);
  state.logCallback = null;
}

const finalizer = new FinalizationRegistry<RuntimeState>(destroyState);

type Prepared = { opts: Partial<pi5_runtime_options>; state: RuntimeState; errors: string[] };

function prepare(options: RuntimeOptions): Prepared {
  const n = native();
  const opts = n.pi5_runtime_default_options();
  const backend = pick('backend', options.backend, BACKENDS);
  const limits = pick('limits', options.limits, LIMITS);
  const logLevel = pick('logLevel', options.logLevel, LEVELS);
  const threads = int('threads', options.threads, 0, 0x7fffffff);
  const timeoutMs = int('timeoutMs', options.timeoutMs, 1, 0xffffffff);
  if (options.validate !== undefined && typeof options.validate !== 'boolean') throw invalid(`validate: expected a boolean, got ${JSON.stringify(options.validate)}`);
  if (options.device !== undefined && typeof options.device !== 'string' && !(Number.isInteger(options.device) && options.device >= 0)) {
    throw invalid(`device: expected a device index or name, got ${JSON.stringify(options.device)}`);
  }
  if (options.onLog !== undefined && typeof options.onLog !== 'function') throw invalid('onLog: expected a function');
  if (backend !== undefined) opts.backend = backend as pi5_backend;
  if (limits !== undefined) opts.limits = limits as pi5_limits_profile;
  if (logLevel !== undefined) opts.log_level = logLevel as pi5_log_level;
  if (threads !== undefined) opts.n_threads = threads;
  if (timeoutMs !== undefined) opts.timeout_ms = timeoutMs;
  if (options.validate !== undefined) opts.validate = options.validate ? 1 : 0;
  if (options.device !== undefined) opts.device = String(options.device);
  // Always install a callback: creation failures are reported only through the log, and we want
  // their text in the thrown error. Without onLog, messages go to stderr as the library would.
  const errors: string[] = [];
  const onLog = options.onLog;
  const callback = koffi.register((level: number, message: string | null) => {
    const text = message ?? '';
    if (level === pi5_log_level.PI5_LOG_ERROR) errors.push(text);
    try {
      if (onLog) onLog(LEVEL_NAMES[level] ?? 'debug', text);
      else process.stderr.write(`pi5-llm-rt [${LEVEL_NAMES[level] ?? level}] ${text}\n`);
    } catch { /* a throwing log handler must not unwind through native frames */ }
  }, koffi.pointer(pi5Types().pi5_log_callback));
  opts.log_callback = callback;
  return {
    opts,
    state: { handle: null, logCallback: callback, closed: false, busy: null, abortBusy: null, queue: Promise.resolve(), modelSerial: 0, graphs: new Set() },
    errors,
  };
}

function finish(p: Prepared, status: number, handle: Pi5Handle<'pi5_runtime'> | null): Runtime {
  if (status !== pi5_status.PI5_OK || !handle) {
    destroyState(p.state);
    const reason = p.errors[p.errors.length - 1] ?? native().pi5_status_string(status as pi5_status);
    throw new Pi5Error(status || pi5_status.PI5_ERR_INTERNAL, `cannot create runtime: ${reason}`, p.errors.join("\n") || reason);
  }
  p.state.handle = handle;
  return new Runtime(p.state, TOKEN);
}

const TOKEN = Symbol('Runtime');

/**
 * A pi5-llm-rt runtime: a backend (Vulkan device or CPU) and everything loaded on it.
 *
 * ```ts
 * using rt = await Runtime.create({ backend: 'cpu' });
 * console.log(rt.backend, rt.report().cpu);
 * ```
 */
export class Runtime {
  readonly #state: RuntimeState;

  /** @internal Use Runtime.create(). */
  constructor(state: RuntimeState, token: symbol) {
    if (token !== TOKEN) throw new TypeError('use Runtime.create()');
    this.#state = state;
    finalizer.register(this, state, this);
  }

  /** Creates a runtime without blocking the JS thread (device setup can take a while). */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const p = prepare(options);
    const out: [Pi5Handle<'pi5_runtime'> | null] = [null];
    let status: number;
    try {
      status = await new Promise<number>((resolve, reject) => {
        native().pi5_create_runtime_ex.async(p.opts, out, (err, res) => (err ? reject(err) : resolve(res)));
      });
    } catch (e) {
      destroyState(p.state);
      throw e;
    }
    return finish(p, status, out[0]);
  }

  /** Creates a runtime, blocking the JS thread until the device is ready. */
  static createSync(options: RuntimeOptions = {}): Runtime {
    const p = prepare(options);
    const out: [Pi5Handle<'pi5_runtime'> | null] = [null];
    const status = native().pi5_create_runtime_ex(p.opts, out);
    return finish(p, status, out[0]);
  }

  /** The version string of the loaded native library, e.g. "0.1.0". */
  static get libraryVersion(): string {
    return native().pi5_version_string();
  }

  /** The path the native library was loaded from. */
  static get libraryPath(): string {
    return loadLibrary().path;
  }

  /** @internal The native handle; throws Pi5DisposedError after dispose(). */
  get handle(): Pi5Handle<'pi5_runtime'> {
    const h = this.#state.handle;
    if (!h || this.#state.closed) throw new Pi5DisposedError('Runtime');
    return h;
  }

  /**
   * @internal The handle for a synchronous call: throws Pi5BusyError while a worker-thread call
   * (load, eval, generate) runs on this runtime, because one runtime is used by one thread at a time.
   */
  /**
   * @internal Handle for a tokenizer call (tokenize, isEog, token pieces): these only read the
   * loaded vocabulary, which no running call changes, so they work during a generation too.
   */
  tokenizerHandle(): Pi5Handle<'pi5_runtime'> {
    return this.handle;
  }

  syncHandle(what: string): Pi5Handle<'pi5_runtime'> {
    const h = this.handle;
    if (this.#state.busy) throw new Pi5BusyError(what, this.#state.busy);
    return h;
  }

  /** @internal Shared native state (model serial, busy flag) for objects this runtime owns. */
  get state(): RuntimeState {
    return this.#state;
  }

  /**
   * @internal Runs `fn` when the runtime's earlier worker-thread calls have finished, with the
   * runtime marked busy (synchronous calls throw meanwhile). `abort` stops it early when the
   * runtime is disposed meanwhile.
   */
  exclusive<T>(what: string, abort: (() => void) | null, fn: (h: Pi5Handle<'pi5_runtime'>) => Promise<T>): Promise<T> {
    const state = this.#state;
    const run = async (): Promise<T> => {
      const h = this.handle; // throws when disposed while queued
      state.busy = what;
      state.abortBusy = abort;
      try {
        return await fn(h);
      } finally {
        state.busy = null;
        state.abortBusy = null;
        if (state.closed && state.handle) destroyState(state); // dispose() came while we ran
      }
    };
    const p = state.queue.then(run, run);
    state.queue = p.catch(() => undefined);
    return p;
  }

  /** Whether dispose() has run. */
  get disposed(): boolean {
    return this.#state.handle === null || this.#state.closed;
  }

  /** The backend in effect: 'cpu' or 'vulkan' (never 'auto'). */
  get backend(): 'cpu' | 'vulkan' {
    return native().pi5_runtime_backend(this.handle) === pi5_backend.PI5_BACKEND_VULKAN ? 'vulkan' : 'cpu';
  }

  /** The message of the last failed native call on this runtime ("" if none). */
  get lastError(): string {
    return native().pi5_last_error(this.handle);
  }

  /** The runtime and device report (backend, fallback reason, CPU, device, limits, heaps). */
  report(): RuntimeReport {
    return JSON.parse(this.reportJson()) as RuntimeReport;
  }

  /** The report as the library writes it (JSON text). */
  reportJson(): string {
    const h = this.handle;
    return this.readString((buf, size, len) => native().pi5_runtime_report(h, buf, size, len));
  }

  /** @internal Calls a (buf, buf_size, *out_len) function, growing the buffer once if needed. */
  readString(call: (buf: Buffer, size: number, len: BigUint64Array) => number, initial = 4096): string {
    let buf = Buffer.alloc(initial);
    const len = new BigUint64Array(1);
    let status = call(buf, buf.length, len);
    if (status === pi5_status.PI5_ERR_BUFFER_TOO_SMALL) {
      buf = Buffer.alloc(Number(len[0]) + 1);
      status = call(buf, buf.length, len);
    }
    this.check(status);
    return buf.toString('utf8', 0, Number(len[0]));
  }

  /** @internal Throws a Pi5Error for a failed status, with pi5_last_error's text. */
  check(status: number, what = 'pi5-llm-rt'): void {
    if (status === pi5_status.PI5_OK) return;
    const detail = this.#state.handle ? native().pi5_last_error(this.#state.handle) : '';
    const text = detail || native().pi5_status_string(status as pi5_status);
    throw new Pi5Error(status, `${what}: ${text}`, detail);
  }

  /**
   * Loads a GGUF model on this runtime, off the JS thread. A runtime holds one model: loading
   * another makes the previous Model object unusable (its calls throw Pi5DisposedError).
   */
  loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
    return loadModelOn(this, path, options);
  }

  /** Creates an empty compute graph on this runtime's backend (see Graph). */
  createGraph(options: GraphOptions = {}): Graph {
    return createGraphOn(this, options);
  }

  /**
   * Destroys the native runtime and everything it owns (model, graphs). Safe to call more than
   * once. While a worker-thread call runs (generation, load) it is asked to stop and the native
   * runtime is destroyed when it returns.
   */
  dispose(): void {
    const state = this.#state;
    if (state.handle === null || state.closed) return;
    state.closed = true;
    finalizer.unregister(this);
    if (state.busy) {
      state.abortBusy?.();
      return;
    }
    destroyState(state);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
