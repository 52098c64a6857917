/**
 * A {@linkcode RangeSource} over an HTTP(S) URL using Range GETs.
 *
 * @module
 */

import {
  DesFormatError,
  DesInputError,
  DesNotFoundError,
  DesUnavailableError,
} from "../core/errors.ts";
import type { RangeSource, SuffixRead } from "./range_source.ts";
import { checkLength } from "./source_checks.ts";
import { checkedStream, readExactly } from "./streams.ts";

/** Options of {@linkcode HttpRangeSource}. */
export interface HttpRangeSourceOptions {
  /** The fetch to use (default: global `fetch`). */
  fetch?: typeof fetch;
  /** Extra request headers (auth …). */
  headers?: HeadersInit;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/**
 * A source over an HTTP(S) URL using `Range` GETs: `bytes=-N` for the suffix
 * (size from `Content-Range`), `bytes=a-b` otherwise. A `200` instead of
 * `206` is accepted only when the whole resource was asked for.
 */
export class HttpRangeSource implements RangeSource {
  /** The resource URL. */
  readonly url: string;
  readonly #fetch: typeof fetch;
  readonly #headers?: HeadersInit;

  /** @param url resource URL @param options fetch and headers */
  constructor(url: string | URL, options: HttpRangeSourceOptions = {}) {
    this.url = String(url);
    this.#fetch = options.fetch ?? fetch;
    this.#headers = options.headers;
  }

  /** The last `length` bytes and the size. */
  async readSuffix(length: number): Promise<SuffixRead> {
    checkLength(length);
    if (length === 0) throw new DesInputError("suffix length must be positive", { length });
    const response = await this.#get(`bytes=-${length}`);
    if (response.status === 206) {
      const range = this.#contentRange(response);
      if (range.total === undefined || range.end !== range.total - 1) {
        return this.#reject(response, "suffix response does not end at the end of the resource");
      }
      const count = range.end - range.start + 1;
      if (count !== Math.min(length, range.total)) {
        return this.#reject(response, "suffix response has the wrong length");
      }
      return { bytes: await this.#body(response, count), size: range.total };
    }
    if (response.status === 200) {
      const declared = response.headers.get("content-length");
      const size = declared === null ? NaN : Number(declared);
      if (!Number.isSafeInteger(size) || size > length) {
        return this.#reject(response, "server ignored the Range header (200 instead of 206)");
      }
      return { bytes: await this.#body(response, size), size };
    }
    if (response.status === 416) {
      const range = this.#contentRange(response, true);
      await response.body?.cancel();
      if (range.total === 0) return { bytes: new Uint8Array(0), size: 0 };
      throw new DesFormatError("suffix range not satisfiable", { source: this.url });
    }
    return this.#statusError(response);
  }

  /** `length` bytes at `offset`. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const response = await this.#ranged(offset, length);
    return response ? await this.#body(response, length) : new Uint8Array(0);
  }

  /** `length` bytes at `offset`, streamed; a wrong length errors the stream. */
  async stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
    const response = await this.#ranged(offset, length);
    const check = checkedStream(length, {
      lengthError: (actual) => this.#lengthError(length, actual),
    });
    const body = response?.body ??
      new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    return body.pipeThrough(check.transform);
  }

  async #ranged(offset: number, length: number): Promise<Response | undefined> {
    checkLength(offset, "offset");
    checkLength(length);
    if (length === 0) return undefined;
    const end = offset + length - 1;
    const response = await this.#get(`bytes=${offset}-${end}`);
    if (response.status === 206) {
      const range = this.#contentRange(response);
      if (range.start !== offset || range.end !== end) {
        return this.#reject(response, "short read: response covers a different range", {
          offset,
          length,
          contentRange: response.headers.get("content-range"),
        });
      }
      return response;
    }
    if (response.status === 200) {
      if (offset === 0 && response.headers.get("content-length") === String(length)) {
        return response;
      }
      return this.#reject(response, "server ignored the Range header (200 instead of 206)");
    }
    if (response.status === 416) {
      return this.#reject(response, "short read: range beyond the end of the resource", {
        offset,
        length,
      });
    }
    return this.#statusError(response);
  }

  async #get(range: string): Promise<Response> {
    const headers = new Headers(this.#headers);
    headers.set("range", range);
    try {
      return await this.#fetch(this.url, { headers });
    } catch (cause) {
      throw new DesUnavailableError(`GET ${this.url} failed`, { source: this.url, range }, cause);
    }
  }

  #contentRange(response: Response, unsatisfied = false) {
    const header = response.headers.get("content-range") ?? "";
    if (unsatisfied) {
      const match = /^bytes \*\/(\d+)$/.exec(header);
      return { start: 0, end: -1, total: match ? Number(match[1]) : undefined };
    }
    const match = CONTENT_RANGE.exec(header);
    if (!match) {
      throw new DesFormatError("missing or malformed Content-Range", {
        source: this.url,
        contentRange: header,
      });
    }
    const [start, end] = [Number(match[1]), Number(match[2])];
    const total = match[3] === "*" ? undefined : Number(match[3]);
    if (
      !Number.isSafeInteger(end) || start > end || (total !== undefined && end >= total)
    ) {
      throw new DesFormatError("malformed Content-Range", {
        source: this.url,
        contentRange: header,
      });
    }
    return { start, end, total };
  }

  #body(response: Response, length: number): Promise<Uint8Array> {
    const body = response.body ??
      new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
    return readExactly(body, length, (actual) => this.#lengthError(length, actual));
  }

  #lengthError(expected: number, actual: number): DesFormatError {
    return new DesFormatError("HTTP response body has the wrong length", {
      source: this.url,
      expected,
      actual,
    });
  }

  async #reject(
    response: Response,
    why: string,
    context: Record<string, unknown> = {},
  ): Promise<never> {
    await response.body?.cancel();
    throw new DesFormatError(why, { source: this.url, status: response.status, ...context });
  }

  async #statusError(response: Response): Promise<never> {
    await response.body?.cancel();
    const context = { source: this.url, status: response.status };
    if (response.status === 404 || response.status === 410) {
      throw new DesNotFoundError(`GET ${this.url}: ${response.status}`, context);
    }
    throw new DesUnavailableError(`GET ${this.url}: HTTP ${response.status}`, context);
  }
}
