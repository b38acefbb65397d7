import { pi5_status, pi5_status_names } from '../generated.js';

/** Name of a pi5_status code, e.g. "PI5_ERR_INVALID_ARGUMENT" ("PI5_STATUS_<n>" for unknown codes). */
export type Pi5StatusName = keyof typeof pi5_status;

/** An error reported by the native library: `status` is the pi5_status value, `code` its name. */
export class Pi5Error extends Error {
  override name = 'Pi5Error';
  /** The pi5_status value (negative). */
  readonly status: number;
  /** The pi5_status name, e.g. "PI5_ERR_INVALID_ARGUMENT". */
  readonly code: Pi5StatusName | `PI5_STATUS_${number}`;
  /** pi5_last_error's text (or the logged reason) when the library gave one. */
  readonly nativeMessage: string;

  constructor(status: number, message: string, nativeMessage = '') {
    const code = pi5_status_names[status] ?? (`PI5_STATUS_${status}` as const);
    super(`${message} (${code})`);
    this.status = status;
    this.code = code;
    this.nativeMessage = nativeMessage;
  }
}

/** Thrown by every method of a disposed Runtime (or of an object it owned). */
export class Pi5DisposedError extends Error {
  override name = 'Pi5DisposedError';
  readonly code = 'PI5_DISPOSED';
  constructor(what: string) {
    super(`${what} has been disposed`);
  }
}

/**
 * Thrown by a synchronous call (tokenize, kv, ...) while a worker-thread call (load, eval,
 * generate) runs on the same runtime: one runtime is used by one thread at a time. Await the
 * running call (or finish iterating the generation) first.
 */
export class Pi5BusyError extends Error {
  override name = 'Pi5BusyError';
  readonly code = 'PI5_BUSY';
  constructor(what: string, busyWith: string) {
    super(`${what}: the runtime is busy with ${busyWith}; await it first`);
  }
}

/** Thrown when libpi5_llm_rt.so cannot be found or loaded; `tried` lists every candidate. */
export class Pi5LibraryError extends Error {
  override name = 'Pi5LibraryError';
  readonly code = 'PI5_LIBRARY_NOT_FOUND';
  constructor(message: string, readonly tried: string[]) {
    super(message);
  }
}

export { pi5_status };
