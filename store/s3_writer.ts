/**
 * {@linkcode S3ObjectWriter}: a streaming writer to S3. An object that ends
 * within its first part is sent as one PUT; a larger one becomes a
 * multipart upload whose parts go up {@linkcode PARTS_IN_FLIGHT} at a time
 * while the next part fills (memory bounded by that many parts plus the one
 * filling), aborted on failure or `abort()`.
 *
 * @module
 */

import { DesConflictError, DesInputError, DesUnavailableError } from "../core/errors.ts";
import type { ObjectInfo, ObjectWriter, PutOptions } from "./object_store.ts";
import { S3MultipartUpload, type UploadTarget } from "./s3_multipart.ts";

/** What the writer needs from its store. */
export interface S3WriterHost extends UploadTarget {
  /** Part size in bytes (the buffer never grows beyond it). */
  readonly partSize: number;
  /** A single PUT of a whole small object. */
  putBytes(key: string, bytes: Uint8Array, options: PutOptions): Promise<ObjectInfo>;
  /** HEAD an object. */
  head(key: string): Promise<ObjectInfo | null>;
}

const FIRST_BUFFER = 64 * 1024;

/** Parts of one object uploaded at once. */
export const PARTS_IN_FLIGHT = 4;

/** Buffers up to one part, uploads it when more bytes arrive, completes on `close()`. */
export class S3ObjectWriter implements ObjectWriter {
  #buffer = new Uint8Array(0);
  #filled = 0;
  #upload?: S3MultipartUpload;
  readonly #sending = new Set<Promise<void>>();
  #state: "open" | "closed" | "aborted" | "failed" = "open";

  /** @param host the store @param key object key (validated) @param options put options */
  constructor(
    private readonly host: S3WriterHost,
    private readonly key: string,
    private readonly options: PutOptions = {},
  ) {}

  /** Append bytes; resolves once they are buffered (and a full part, if any, uploaded). */
  async write(chunk: Uint8Array): Promise<void> {
    this.#ensureOpen();
    try {
      let at = 0;
      while (at < chunk.byteLength) {
        if (this.#filled === this.host.partSize) await this.#flushPart();
        const n = Math.min(this.host.partSize - this.#filled, chunk.byteLength - at);
        this.#reserve(this.#filled + n);
        this.#buffer.set(chunk.subarray(at, at + n), this.#filled);
        this.#filled += n;
        at += n;
      }
    } catch (error) {
      await this.#fail();
      throw error;
    }
  }

  /** Finish the object; returns its HEADed info with the real ETag. */
  async close(): Promise<ObjectInfo> {
    this.#ensureOpen();
    this.#state = "closed";
    try {
      const rest = this.#buffer.subarray(0, this.#filled);
      if (!this.#upload) return await this.host.putBytes(this.key, rest, this.options);
      this.#send(rest);
      while (this.#sending.size > 0) await Promise.race(this.#sending);
      if (this.options.ifNoneMatch && await this.host.head(this.key)) {
        throw new DesConflictError(`object ${this.key} already exists`, { key: this.key });
      }
      await this.#upload.complete(this.options.ifNoneMatch === true);
      const info = await this.host.head(this.key);
      if (!info) {
        throw new DesUnavailableError(`object ${this.key} is missing after its upload`, {
          key: this.key,
          bucket: this.host.bucket,
          endpoint: this.host.endpoint,
        });
      }
      return info;
    } catch (error) {
      await this.#settle();
      await this.#upload?.abort().catch(() => {});
      throw error;
    } finally {
      this.#release();
    }
  }

  /** Abandon the object and abort its multipart upload. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    this.#release();
    await this.#settle();
    await this.#upload?.abort();
  }

  /** Start uploading the full buffer as the next part; wait while too many are in flight. */
  async #flushPart(): Promise<void> {
    this.#upload ??= await S3MultipartUpload.start(this.host, this.key, this.options.contentType);
    this.#send(this.#buffer);
    // More bytes are coming (that is why the part was flushed): a whole part.
    this.#buffer = new Uint8Array(this.host.partSize);
    this.#filled = 0;
    while (this.#sending.size >= PARTS_IN_FLIGHT) await Promise.race(this.#sending);
  }

  /** Upload `part` in the background; a failure rejects the next wait on `#sending`. */
  #send(part: Uint8Array): void {
    const sending: Promise<void> = this.#upload!.uploadPart(part).then(() => {
      this.#sending.delete(sending);
    });
    sending.catch(() => {}); // observed by the Promise.race of write or close
    this.#sending.add(sending);
  }

  #reserve(size: number): void {
    if (size <= this.#buffer.byteLength) return;
    const grown = Math.min(
      this.host.partSize,
      Math.max(size, FIRST_BUFFER, this.#buffer.byteLength * 2),
    );
    const next = new Uint8Array(grown);
    next.set(this.#buffer.subarray(0, this.#filled));
    this.#buffer = next;
  }

  async #fail(): Promise<void> {
    this.#state = "failed";
    this.#release();
    await this.#settle();
    await this.#upload?.abort().catch(() => {});
  }

  /** Wait for the parts in flight to end, so that an abort frees them all. */
  async #settle(): Promise<void> {
    await Promise.allSettled([...this.#sending]);
  }

  #release(): void {
    this.#buffer = new Uint8Array(0);
    this.#filled = 0;
  }

  #ensureOpen(): void {
    if (this.#state !== "open") {
      throw new DesInputError(`writer for ${this.key} is ${this.#state}`, { key: this.key });
    }
  }
}
