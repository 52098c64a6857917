/**
 * A {@linkcode RangeSource} wrapper that records every call, so tests and
 * benchmarks can assert how many requests a read path makes.
 *
 * @module
 */

import type { RangeSource, SuffixRead } from "./range_source.ts";

/** One recorded call of a {@linkcode CountingRangeSource}. */
export interface SourceCall {
  /** Method called. */
  method: "readSuffix" | "read" | "stream";
  /** Offset (absent for `readSuffix`). */
  offset?: number;
  /** Length asked for. */
  length: number;
}

/** Wraps a source and records every call (each call is one request). */
export class CountingRangeSource implements RangeSource {
  /** Calls so far, in order. */
  readonly calls: SourceCall[] = [];
  /** The wrapped source. */
  readonly inner: RangeSource;

  /** @param inner the source to count calls to */
  constructor(inner: RangeSource) {
    this.inner = inner;
  }

  /** Location of the wrapped source. */
  get url(): string {
    return this.inner.url;
  }

  /** Number of calls so far. */
  get count(): number {
    return this.calls.length;
  }

  /** Forget the calls recorded so far. */
  reset(): void {
    this.calls.length = 0;
  }

  /** Recorded, then passed on. */
  readSuffix(length: number): Promise<SuffixRead> {
    this.calls.push({ method: "readSuffix", length });
    return this.inner.readSuffix(length);
  }

  /** Recorded, then passed on. */
  read(offset: number, length: number): Promise<Uint8Array> {
    this.calls.push({ method: "read", offset, length });
    return this.inner.read(offset, length);
  }

  /** Recorded, then passed on. */
  stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
    this.calls.push({ method: "stream", offset, length });
    return this.inner.stream(offset, length);
  }
}
