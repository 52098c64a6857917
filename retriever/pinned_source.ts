/**
 * A {@linkcode RangeSource} over one object of a store that pins the object
 * version: when the ETag is known every request carries If-Match; when it
 * is not, the first (suffix) read learns it from the response and every
 * later read is pinned to it. A replaced object thus fails with
 * `DesConflictError` instead of mixing bytes of two versions. It also counts
 * its requests, so a read can report how many S3 GETs it cost.
 *
 * @module
 */

import type { RangeSource, SuffixRead } from "../format/range_source.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { bodyBytes } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";

/** A version-pinning, request-counting range source. */
export class PinnedRangeSource implements RangeSource {
  /** `STORE_URL/KEY`. */
  readonly url: string;
  /** Requests made so far. */
  requests = 0;
  #etag: string | undefined;
  #size: number | undefined;
  #pinned: StoreRangeSource | undefined;

  /**
   * @param store where the object lives
   * @param key its key
   * @param known ETag and size when the catalog knows them
   */
  constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    known: { etag?: string; size?: number } = {},
  ) {
    this.url = `${store.url.replace(/\/$/, "")}/${key}`;
    this.#etag = known.etag;
    this.#size = known.size;
  }

  /** The pinned ETag (known after the first read when it was not given). */
  get etag(): string | undefined {
    return this.#etag;
  }

  /** The last `length` bytes and the object's size: one ranged GET. */
  async readSuffix(length: number): Promise<SuffixRead> {
    if (this.#etag !== undefined) {
      this.requests++;
      const read = await this.#source().readSuffix(length);
      this.#size = read.size;
      return read;
    }
    this.requests++;
    const result = await this.store.get(this.key, { range: { suffix: length } });
    const bytes = await bodyBytes(result);
    this.#etag = result.info.etag;
    this.#size = result.info.size;
    return { bytes, size: result.info.size };
  }

  /** Exactly `length` bytes at `offset`: one pinned ranged GET. */
  read(offset: number, length: number): Promise<Uint8Array> {
    if (length > 0) this.requests++;
    return this.#source().read(offset, length);
  }

  /** `length` bytes at `offset` as a stream: one pinned ranged GET. */
  stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
    if (length > 0) this.requests++;
    return this.#source().stream(offset, length);
  }

  #source(): StoreRangeSource {
    const options = { etag: this.#etag, size: this.#size };
    if (this.#etag === undefined) return new StoreRangeSource(this.store, this.key, options);
    this.#pinned ??= new StoreRangeSource(this.store, this.key, options);
    return this.#pinned;
  }
}
