/**
 * A {@linkcode RangeSource} over bytes in memory.
 *
 * @module
 */

import type { RangeSource, SuffixRead } from "./range_source.ts";
import { checkLength, checkRange, STREAM_CHUNK_BYTES } from "./source_checks.ts";

/** A source over bytes in memory; reads return copies. */
export class MemoryRangeSource implements RangeSource {
  /** Location used in error messages. */
  readonly url: string;
  readonly #bytes: Uint8Array;

  /** @param bytes the whole container @param url a label for errors */
  constructor(bytes: Uint8Array, url = "memory:") {
    this.#bytes = bytes;
    this.url = url;
  }

  /** The last `length` bytes and the size. */
  readSuffix(length: number): Promise<SuffixRead> {
    try {
      checkLength(length);
    } catch (error) {
      return Promise.reject(error);
    }
    const size = this.#bytes.byteLength;
    return Promise.resolve({ bytes: this.#bytes.slice(size - Math.min(length, size)), size });
  }

  /** `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      checkRange(this.url, offset, length, this.#bytes.byteLength);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(this.#bytes.slice(offset, offset + length));
  }

  /** `length` bytes at `offset`, streamed in chunks. */
  stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
    try {
      checkRange(this.url, offset, length, this.#bytes.byteLength);
    } catch (error) {
      return Promise.reject(error);
    }
    let at = offset;
    const end = offset + length;
    const bytes = this.#bytes;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= end) return controller.close();
          const next = Math.min(end, at + STREAM_CHUNK_BYTES);
          controller.enqueue(bytes.slice(at, next));
          at = next;
        },
      }),
    );
  }
}
