/**
 * The seam the container format needs for big files, declared here so that
 * `format/` depends on nothing below it: a writer puts each file above the
 * big-file threshold as an object of its own and deletes it again when the
 * container is abandoned; a reader gets such an object whole or by range.
 * `ObjectStore` (in `store/`) satisfies {@linkcode BigFileStore}
 * structurally, as does any small adapter over another storage.
 *
 * @module
 */

/** A byte range of a big-file object: `length` bytes from `offset`. */
export interface BigFileRange {
  /** First byte, zero-based. */
  offset: number;
  /** Number of bytes. */
  length: number;
}

/** What a get of a big-file object returns. */
export interface BigFileBody {
  /** Number of bytes in `body`. */
  length: number;
  /** The bytes, streamed. Must be consumed or cancelled. */
  body: ReadableStream<Uint8Array>;
}

/**
 * Where big files live. Keys are `/`-separated relative paths.
 *
 * @example
 * ```ts
 * import type { BigFileStore } from "./big_file_store.ts";
 * const objects = new Map<string, Uint8Array>();
 * const store: BigFileStore = {
 *   get(key, options) {
 *     const all = objects.get(key)!;
 *     const { offset = 0, length = all.byteLength } = options?.range ?? {};
 *     const bytes = all.subarray(offset, offset + length);
 *     return Promise.resolve({ length: bytes.byteLength, body: ReadableStream.from([bytes]) });
 *   },
 *   async put(key, body) {
 *     objects.set(key, body instanceof Uint8Array ? body : await new Response(body).bytes());
 *   },
 *   delete(key) {
 *     objects.delete(key);
 *     return Promise.resolve();
 *   },
 * };
 * ```
 */
export interface BigFileStore {
  /** The object, or `range` of it. Throws `DesNotFoundError` when it is missing. */
  get(key: string, options?: { range?: BigFileRange }): Promise<BigFileBody>;
  /** Store a whole object of `contentLength` bytes. */
  put(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    options: { contentLength: number },
  ): Promise<unknown>;
  /** Delete an object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
}
