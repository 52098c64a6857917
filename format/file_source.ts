/**
 * A {@linkcode RangeSource} over a local file (Deno.FsFile, seek + read).
 *
 * @module
 */

import { DesFormatError, DesNotFoundError } from "../core/errors.ts";
import type { RangeSource, SuffixRead } from "./range_source.ts";
import { checkLength, STREAM_CHUNK_BYTES } from "./source_checks.ts";

/** Reads up to this many bytes are made with synchronous calls (see `#readAt`). */
const SYNC_READ_BYTES = 64 * 1024;

/**
 * A source over a local file, read with seek + read (serialized per source);
 * reads up to 64 KiB synchronously, larger ones asynchronously.
 */
export class FileRangeSource implements RangeSource {
  /** `file://` URL of the file. */
  readonly url: string;
  readonly #file: Deno.FsFile;
  #lock: Promise<unknown> = Promise.resolve();

  private constructor(url: string, file: Deno.FsFile) {
    this.url = url;
    this.#file = file;
  }

  /** Open `path` for reading; `DesNotFoundError` when it does not exist. */
  static async open(path: string): Promise<FileRangeSource> {
    try {
      const file = await Deno.open(path, { read: true });
      return new FileRangeSource(`file://${path}`, file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new DesNotFoundError(`no such file: ${path}`, { path });
      }
      throw error;
    }
  }

  /** The last `length` bytes and the size (from fstat). */
  readSuffix(length: number): Promise<SuffixRead> {
    return this.#locked(async () => {
      checkLength(length);
      const size = (await this.#file.stat()).size;
      const count = Math.min(length, size);
      return { bytes: await this.#readAt(size - count, count, size), size };
    });
  }

  /** `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.#locked(() => {
      checkLength(offset, "offset");
      checkLength(length);
      return this.#readAt(offset, length);
    });
  }

  /** `length` bytes at `offset`, streamed in chunks; a short file errors the stream. */
  stream(offset: number, length: number): Promise<ReadableStream<Uint8Array>> {
    try {
      checkLength(offset, "offset");
      checkLength(length);
    } catch (error) {
      return Promise.reject(error);
    }
    let at = offset;
    const end = offset + length;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          if (at >= end) return controller.close();
          const count = Math.min(STREAM_CHUNK_BYTES, end - at);
          const chunk = await this.#locked(() => this.#readAt(at, count));
          at += count;
          controller.enqueue(chunk);
        },
      }),
    );
  }

  /** Close the file. */
  close(): void {
    this.#file.close();
  }

  async #readAt(offset: number, length: number, size?: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let filled = 0;
    if (length <= SYNC_READ_BYTES) {
      // A small read of a local file costs a few µs in the calling thread and
      // far more as two trips through the runtime's blocking pool (seek, read).
      this.#file.seekSync(offset, Deno.SeekMode.Start);
      while (filled < length) {
        const n = this.#file.readSync(out.subarray(filled));
        if (n === null) throw this.#shortRead(offset, length, size ?? offset + filled);
        filled += n;
      }
      return out;
    }
    await this.#file.seek(offset, Deno.SeekMode.Start);
    while (filled < length) {
      const n = await this.#file.read(out.subarray(filled));
      if (n === null) throw this.#shortRead(offset, length, size ?? offset + filled);
      filled += n;
    }
    return out;
  }

  #shortRead(offset: number, length: number, size: number): DesFormatError {
    return new DesFormatError("short read: range beyond the end of the file", {
      source: this.url,
      offset,
      length,
      size,
    });
  }

  #locked<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#lock.then(operation);
    this.#lock = result.catch(() => {});
    return result;
  }
}
