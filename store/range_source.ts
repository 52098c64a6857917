/**
 * {@linkcode StoreRangeSource}: the container format's {@linkcode RangeSource}
 * over an object of an {@linkcode ObjectStore}. Each method is exactly one
 * store request; with a pinned ETag every request carries If-Match, so a
 * replaced object fails with `DesConflictError` instead of mixing versions.
 * Without one, `pinFirst` pins the version the first answer described, and
 * {@linkcode StoreRangeSource.firstAnswer} tells its size and ETag: a HEAD
 * is then never needed before the reads.
 *
 * @module
 */

import { DesFormatError } from "../core/errors.ts";
import type { RangeSource, SuffixRead } from "../format/range_source.ts";
import type { GetResult, ObjectInfo, ObjectStore, RangeRequest } from "./object_store.ts";
import { bodyBytes } from "./object_store.ts";
import { DesRangeNotSatisfiableError } from "./range.ts";

/** What a caller may already know about the object. */
export interface StoreRangeSourceOptions {
  /** Pin this version: every request sends If-Match. */
  etag?: string;
  /** Known size: reads past it fail before any request is made. */
  size?: number;
  /** Without `etag`: pin the ETag of the first answer for the requests after it. */
  pinFirst?: boolean;
}

/** Byte ranges of one object of a store. */
export class StoreRangeSource implements RangeSource {
  /** `STORE_URL/KEY`. */
  readonly url: string;
  #first?: ObjectInfo;

  /**
   * @param store where the object lives
   * @param key the object
   * @param options pinned ETag and known size
   */
  constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    private readonly options: StoreRangeSourceOptions = {},
  ) {
    this.url = `${store.url.replace(/\/$/, "")}/${key}`;
  }

  /** The object as the first answered request described it (size, ETag), if any was answered. */
  get firstAnswer(): ObjectInfo | undefined {
    return this.#first;
  }

  /** The last `length` bytes (all of a smaller object) and the object's size: one ranged GET. */
  async readSuffix(length: number): Promise<SuffixRead> {
    if (length === 0) throw this.#error("a suffix read of 0 bytes", { length });
    const result = await this.#get({ suffix: length });
    return { bytes: await bodyBytes(result), size: result.info.size };
  }

  /** Exactly `length` bytes at `offset`: one ranged GET. `DesFormatError` on a short read. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    this.#checkBounds(offset, length);
    const result = await this.#get({ offset, length });
    this.#checkLength(result, offset, length);
    const bytes = await bodyBytes(result);
    if (bytes.byteLength !== length) throw this.#short(offset, length, bytes.byteLength);
    return bytes;
  }

  /** `length` bytes at `offset` as a stream: one ranged GET. */
  async stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
    if (length === 0) return ReadableStream.from<Uint8Array>([]);
    this.#checkBounds(offset, length);
    const result = await this.#get({ offset, length });
    try {
      this.#checkLength(result, offset, length);
    } catch (error) {
      await result.body.cancel();
      throw error;
    }
    return result.body;
  }

  async #get(range: RangeRequest): Promise<GetResult> {
    const pinned = this.options.pinFirst ? this.#first?.etag || undefined : undefined;
    try {
      const result = await this.store.get(this.key, {
        range,
        ifMatch: this.options.etag ?? pinned,
      });
      this.#first ??= result.info;
      return result;
    } catch (error) {
      if (error instanceof DesRangeNotSatisfiableError) {
        throw this.#error("a read outside the object", { ...error.context });
      }
      throw error;
    }
  }

  #checkBounds(offset: number, length: number): void {
    const { size } = this.options;
    if (size !== undefined && offset + length > size) {
      throw this.#error(`a read of ${length} bytes at ${offset}, past the end`, {
        offset,
        length,
        size,
      });
    }
  }

  #checkLength(result: GetResult, offset: number, length: number): void {
    if (result.length !== length) throw this.#short(offset, length, result.length);
  }

  #short(offset: number, length: number, got: number): DesFormatError {
    return this.#error(`a short read: ${got} of ${length} bytes at ${offset}`, {
      offset,
      length,
      got,
    });
  }

  #error(what: string, context: Record<string, unknown>): DesFormatError {
    return new DesFormatError(`${this.url}: ${what}`, { url: this.url, ...context });
  }
}
