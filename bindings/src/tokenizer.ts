// Streaming detokenization: token bytes in, text that is always complete UTF-8 out.

/**
 * Turns a stream of byte chunks into text, holding back an incomplete UTF-8 sequence at the end
 * of a chunk until the bytes that complete it arrive. Invalid bytes become U+FFFD. Standalone:
 * use it for any byte stream (e.g. token pieces from another source).
 */
export class Utf8StreamDecoder {
  #decoder = new TextDecoder('utf-8', { fatal: false });

  /** Text completed by `bytes` (may be '' while a multi-byte character is incomplete). */
  push(bytes: Uint8Array): string {
    return this.#decoder.decode(bytes, { stream: true });
  }

  /** The rest: an incomplete trailing sequence becomes U+FFFD. The decoder can be reused after. */
  flush(): string {
    return this.#decoder.decode();
  }
}

/** Streaming detokenizer over a token → bytes function (model.createDetokenizer()). */
export class TokenDetokenizer {
  readonly #bytes: (token: number) => Uint8Array;
  readonly #utf8 = new Utf8StreamDecoder();

  constructor(tokenToBytes: (token: number) => Uint8Array) {
    this.#bytes = tokenToBytes;
  }

  /** Text completed by this token (possibly ''). */
  push(token: number): string {
    return this.#utf8.push(this.#bytes(token));
  }

  /** Text of several tokens. */
  pushAll(tokens: Iterable<number>): string {
    let s = '';
    for (const t of tokens) s += this.push(t);
    return s;
  }

  /** Held-back bytes (U+FFFD for an incomplete sequence). */
  flush(): string {
    return this.#utf8.flush();
  }
}
