/**
 * {@linkcode PagedLog}: an append-only byte log kept in fixed pages, read
 * back in order. The writer keeps the META records of a container being
 * written in one: unlike a buffer that doubles, growing never copies and
 * never holds the old and the new buffer at once, and at most one page is
 * slack, so 100,000 records of 120 bytes cost 12 MB, not up to 32.
 *
 * @module
 */

/** Default page size. */
const PAGE_BYTES = 1024 * 1024;

/** An append-only byte log in pages. */
export class PagedLog {
  readonly #pageBytes: number;
  readonly #pages: Uint8Array[] = [];
  #length = 0;

  /** @param pageBytes bytes per page */
  constructor(pageBytes: number = PAGE_BYTES) {
    this.#pageBytes = pageBytes;
  }

  /** Bytes appended so far. */
  get length(): number {
    return this.#length;
  }

  /** Append `bytes`; returns the offset they start at. */
  append(bytes: Uint8Array): number {
    const at = this.#length;
    let from = 0;
    while (from < bytes.byteLength) {
      const used = this.#length % this.#pageBytes;
      if (used === 0) this.#pages.push(new Uint8Array(this.#pageBytes));
      const n = Math.min(this.#pageBytes - used, bytes.byteLength - from);
      this.#pages[this.#pages.length - 1].set(bytes.subarray(from, from + n), used);
      from += n;
      this.#length += n;
    }
    return at;
  }

  /** The appended bytes, page by page (views, the last one cut to its length). */
  *pages(): Generator<Uint8Array> {
    for (let i = 0; i < this.#pages.length; i++) {
      const end = Math.min(this.#pageBytes, this.#length - i * this.#pageBytes);
      yield this.#pages[i].subarray(0, end);
    }
  }
}
