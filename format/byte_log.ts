/**
 * {@linkcode ByteLog}: an append-only byte buffer that doubles as it grows.
 * The writer keeps its per-file INDEX entries, names and META records in
 * three of these instead of one object per file, so its memory is the bytes
 * of the future tail and little more.
 *
 * @module
 */

/** A growable, append-only byte buffer. */
export class ByteLog {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;

  /** @param capacity initial size in bytes */
  constructor(capacity = 64 * 1024) {
    this.#bytes = new Uint8Array(Math.max(16, capacity));
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Bytes appended so far. */
  get length(): number {
    return this.#length;
  }

  /** The whole backing buffer (valid up to {@linkcode length}; replaced when it grows). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** A DataView over {@linkcode bytes}. */
  get view(): DataView {
    return this.#view;
  }

  /** Make room for `length` more bytes and return the offset where they start. */
  reserve(length: number): number {
    const at = this.#length;
    const needed = at + length;
    if (needed > this.#bytes.byteLength) {
      let capacity = this.#bytes.byteLength * 2;
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.#bytes.subarray(0, at));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length = needed;
    return at;
  }

  /** Append `bytes`; returns the offset they start at. */
  append(bytes: Uint8Array): number {
    const at = this.reserve(bytes.byteLength);
    this.#bytes.set(bytes, at);
    return at;
  }

  /** The appended bytes (a view, valid until the next append). */
  contents(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }
}
