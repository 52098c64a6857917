/**
 * A {@linkcode ContainerSink} that writes a local file: bytes go to a
 * temporary file next to the target, which is synced and renamed into place
 * on close, so a half-written container never appears under its name. A
 * staging file that is uploaded and deleted right after may skip the sync
 * (`sync: false`): its durability comes from the upload, not from the disk.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import type { ContainerSink } from "./sink.ts";

/** What {@linkcode FileSink.close} returns. */
export interface FileSinkResult {
  /** Final path of the file. */
  path: string;
  /** Size in bytes. */
  size: number;
}

/** Writes a container to a local path (temp file + rename). */
export class FileSink implements ContainerSink {
  /** Final path. */
  readonly path: string;
  /** Temporary path used until close. */
  readonly tempPath: string;
  /** Each chunk is written to the file before `write` resolves. */
  readonly releasesChunks = true;
  readonly #file: Deno.FsFile;
  readonly #sync: boolean;
  #size = 0;
  #done = false;

  private constructor(path: string, tempPath: string, file: Deno.FsFile, sync: boolean) {
    this.path = path;
    this.tempPath = tempPath;
    this.#file = file;
    this.#sync = sync;
  }

  /**
   * Start writing `path` (its directory must exist). `options.sync: false`
   * skips the `fdatasync` before the rename (default: synced).
   */
  static async create(path: string, options: { sync?: boolean } = {}): Promise<FileSink> {
    const tempPath = `${path}.partial-${crypto.randomUUID().slice(0, 8)}`;
    const file = await Deno.open(tempPath, { write: true, createNew: true });
    return new FileSink(path, tempPath, file, options.sync ?? true);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#size;
  }

  /** Append bytes. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#done) throw new DesInputError("file sink is closed", { path: this.path });
    let at = 0;
    while (at < chunk.byteLength) at += await this.#file.write(chunk.subarray(at));
    this.#size += chunk.byteLength;
  }

  /** Sync (unless created with `sync: false`), close and rename the file into place. */
  async close(): Promise<FileSinkResult> {
    if (this.#done) throw new DesInputError("file sink is closed", { path: this.path });
    this.#done = true;
    try {
      if (this.#sync) await this.#file.syncData();
    } finally {
      this.#file.close();
    }
    await Deno.rename(this.tempPath, this.path);
    return { path: this.path, size: this.#size };
  }

  /** Close and delete the temporary file; safe to call twice. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#file.close();
    await Deno.remove(this.tempPath).catch(() => {});
  }
}
