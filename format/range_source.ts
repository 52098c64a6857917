/**
 * The read seam of the container format: a source of byte ranges. A
 * `DesReader` needs nothing else, so a container can be read from memory, a
 * local file, an HTTP URL or an `ObjectStore` alike.
 *
 * @module
 */

/** The tail of a source: the last bytes and the total size. */
export interface SuffixRead {
  /** The last `min(length, size)` bytes of the source. */
  bytes: Uint8Array;
  /** Total size of the source in bytes. */
  size: number;
}

/** A random-access, read-only source of bytes. Every method call is one request. */
export interface RangeSource {
  /** Human-readable location for error messages. */
  readonly url: string;
  /** The last `length` bytes (fewer if the source is smaller) and the total size: one request. */
  readSuffix(length: number): Promise<SuffixRead>;
  /** Exactly `length` bytes at `offset`: one request. Throws `DesFormatError` on a short read. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** `length` bytes at `offset` as a stream: one request. */
  stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>>;
}
