/**
 * Reads of a container and of its big files at a bounded byte rate: a
 * {@linkcode RangeSource} and a {@linkcode BigFileStore} that take every
 * byte they read from a shared {@linkcode TokenBucket} first.
 *
 * @module
 */

import type { BigFileBody, BigFileRange, BigFileStore } from "../format/big_file_store.ts";
import type { RangeSource, SuffixRead } from "../format/range_source.ts";
import type { TokenBucket } from "./token_bucket.ts";

/** A range source whose reads are paid for in a token bucket. */
export class ThrottledSource implements RangeSource {
  /** Location of the wrapped source. */
  readonly url: string;

  /**
   * @param inner the source read
   * @param bucket the byte budget
   * @param signal cuts waits short when aborted
   */
  constructor(
    private readonly inner: RangeSource,
    private readonly bucket: TokenBucket,
    private readonly signal?: AbortSignal,
  ) {
    this.url = inner.url;
  }

  /** Paid for `length` bytes, then passed on. */
  async readSuffix(length: number): Promise<SuffixRead> {
    await this.bucket.take(length, this.signal);
    return await this.inner.readSuffix(length);
  }

  /** Paid for `length` bytes, then passed on. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    await this.bucket.take(length, this.signal);
    return await this.inner.read(offset, length);
  }

  /** Paid for `length` bytes, then passed on. */
  async stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
    await this.bucket.take(length, this.signal);
    return await this.inner.stream(offset, length);
  }
}

/** A big-file store whose gets are paid for (by their length) before the body is handed out. */
export class ThrottledBigFiles implements BigFileStore {
  /**
   * @param inner the store read
   * @param bucket the byte budget
   * @param signal cuts waits short when aborted
   */
  constructor(
    private readonly inner: BigFileStore,
    private readonly bucket: TokenBucket,
    private readonly signal?: AbortSignal,
  ) {}

  /** Get, then pay for the body's length before returning it. */
  async get(key: string, options?: { range?: BigFileRange }): Promise<BigFileBody> {
    const result = await this.inner.get(key, options);
    await this.bucket.take(result.length, this.signal);
    return result;
  }

  /** Passed on (the scrubber never writes). */
  put(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    options: { contentLength: number },
  ): Promise<unknown> {
    return this.inner.put(key, body, options);
  }

  /** Passed on (the scrubber never deletes). */
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}
