/**
 * {@linkcode FsObjectWriter}: writes an object of the filesystem store to a
 * temp file in its directory; `close()` makes it visible atomically.
 *
 * @module
 */

import { DesConflictError, DesInputError } from "../core/errors.ts";
import { createTemp, discard, fileInfo, fsError, publish, writeAll } from "./fs_files.ts";
import type { ObjectInfo, ObjectWriter, PutOptions, RequestHook } from "./object_store.ts";

/** A streaming writer to a temp file; nothing is visible until `close()`. */
export class FsObjectWriter implements ObjectWriter {
  #state: "open" | "closed" | "aborted" = "open";
  #bytes = 0;
  /** Each chunk is written to the file before `write` resolves. */
  readonly releasesChunks = true;

  private constructor(
    private readonly key: string,
    private readonly path: string,
    private readonly file: Deno.FsFile,
    private readonly temp: string,
    private readonly options: PutOptions,
    private readonly onRequest?: RequestHook,
  ) {}

  /** Create the temp file for `key` (stored at `path`). */
  static async open(
    key: string,
    path: string,
    options: PutOptions,
    onRequest?: RequestHook,
  ): Promise<FsObjectWriter> {
    try {
      const { file, temp } = await createTemp(path);
      return new FsObjectWriter(key, path, file, temp, options, onRequest);
    } catch (error) {
      throw fsError(error, "create a temp file for", path);
    }
  }

  /** Append bytes to the temp file. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#ensureOpen();
    try {
      await writeAll(this.file, chunk);
      this.#bytes += chunk.byteLength;
    } catch (error) {
      await this.abort();
      throw fsError(error, "write", this.temp);
    }
  }

  /** Sync, then rename (or, with `ifNoneMatch`, link) the temp file into place. */
  async close(): Promise<ObjectInfo> {
    this.#ensureOpen();
    this.#state = "closed";
    this.onRequest?.({ op: "put", key: this.key, bytes: this.#bytes });
    try {
      const exclusive = this.options.ifNoneMatch === true;
      return fileInfo(this.key, await publish(this.file, this.temp, this.path, exclusive));
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists && this.options.ifNoneMatch) {
        throw new DesConflictError(`object ${this.key} already exists`, { key: this.key });
      }
      throw fsError(error, "store", this.path);
    }
  }

  /** Close and remove the temp file. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "aborted";
    await discard(this.file, this.temp);
  }

  #ensureOpen(): void {
    if (this.#state !== "open") {
      throw new DesInputError(`writer for ${this.key} is ${this.#state}`, { key: this.key });
    }
  }
}
