/**
 * Open read handles of the filesystem store, so that a read of a small
 * range costs a `stat` of the path, a seek and a read instead of an open,
 * a `stat`, a seek, a read and a close.
 *
 * - **Bounded**: an LRU of at most `maxHandles` open files; an evicted
 *   handle is closed once the reads queued on it are done, and
 *   {@linkcode ReadHandles.close} closes them all.
 * - **Safe when a file is replaced**: every read first `stat`s the path; a
 *   handle is used only while the path still names the very file it has
 *   open (size, mtime and inode, the object's ETag). A replaced or deleted
 *   object is reopened or reported missing, exactly as a fresh open would.
 * - **Positional**: reads of one handle are serialized by a per-handle
 *   queue (seek then read), so concurrent reads never see each other's
 *   position.
 *
 * @module
 */

import { DesConflictError, DesNotFoundError } from "../core/errors.ts";
import { fileInfo, fsError } from "./fs_files.ts";
import type { ObjectInfo } from "./object_store.ts";

/** Most handles kept open by default. */
export const DEFAULT_READ_HANDLES = 64;

interface Handle {
  file: Deno.FsFile;
  info: ObjectInfo;
  /** The last read queued on this handle (reads run one after another). */
  queue: Promise<unknown>;
  /** Out of the map: takes no new reads, closes after the queued ones. */
  retired: boolean;
}

/** The bytes of one ranged read and the object they came from. */
export interface HandleRead {
  /** The object as the bytes were read from it. */
  info: ObjectInfo;
  /** First byte read. */
  start: number;
  /** The bytes. */
  bytes: Uint8Array;
}

/** Which bytes to read, chosen from the object's info (may throw: a failed `If-Match`, a bad range). */
export type RangeChoice = (info: ObjectInfo) => { start: number; length: number };

/** The cache of open read handles; see the module documentation. */
export class ReadHandles {
  readonly #max: number;
  readonly #open = new Map<string, Handle>();
  readonly #opening = new Map<string, Promise<Handle>>();

  /** @param maxHandles most files kept open */
  constructor(maxHandles = DEFAULT_READ_HANDLES) {
    this.#max = maxHandles;
  }

  /** Handles open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Read the bytes `choose` picks from the object now at `path` (`key` for
   * messages). Throws `DesNotFoundError` when there is none.
   */
  async read(path: string, key: string, choose: RangeChoice): Promise<HandleRead> {
    for (let attempt = 0;; attempt++) {
      const handle = await this.#current(path, key);
      // Retired while this read waited for it (replaced or evicted): look again.
      if (handle.retired) {
        if (attempt < 10) continue;
        throw new DesConflictError(`${key} keeps changing while being read`, { key });
      }
      const { start, length } = choose(handle.info);
      return { info: handle.info, start, bytes: await this.#readAt(handle, start, length) };
    }
  }

  async #current(path: string, key: string): Promise<Handle> {
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(path);
    } catch (error) {
      this.#forget(path);
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new DesNotFoundError(`no object ${key}`, { key, path });
      }
      throw fsError(error, "stat", path);
    }
    if (!stat.isFile) throw new DesNotFoundError(`no object ${key}`, { key, path });
    const etag = fileInfo(key, stat).etag;
    const held = this.#open.get(path);
    if (held && held.info.etag === etag) {
      // Most recently used last.
      this.#open.delete(path);
      this.#open.set(path, held);
      return held;
    }
    return await this.#reopen(path, key);
  }

  /** `length` bytes of the file of `handle` from `start`, read under its queue. */
  #readAt(handle: Handle, start: number, length: number): Promise<Uint8Array> {
    const run = handle.queue.then(async () => {
      const bytes = new Uint8Array(length);
      await handle.file.seek(start, Deno.SeekMode.Start);
      let at = 0;
      while (at < length) {
        const n = await handle.file.read(bytes.subarray(at));
        if (n === null) {
          throw new DesConflictError(`${handle.info.key} became shorter while being read`, {
            key: handle.info.key,
            remaining: length - at,
          });
        }
        at += n;
      }
      return bytes;
    });
    handle.queue = run.catch(() => {});
    return run;
  }

  /** Close every handle (after the reads queued on it). */
  async close(): Promise<void> {
    const handles = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(handles.map((h) => this.#retire(h)));
  }

  #reopen(path: string, key: string): Promise<Handle> {
    let pending = this.#opening.get(path);
    if (!pending) {
      pending = this.#openFile(path, key).finally(() => this.#opening.delete(path));
      this.#opening.set(path, pending);
    }
    return pending;
  }

  async #openFile(path: string, key: string): Promise<Handle> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new DesNotFoundError(`no object ${key}`, { key, path });
      }
      throw fsError(error, "open", path);
    }
    let info: ObjectInfo;
    try {
      // The handle's own stat: the info of the bytes it reads, whatever the path names later.
      info = fileInfo(key, await file.stat());
    } catch (error) {
      file.close();
      throw fsError(error, "stat", path);
    }
    const handle: Handle = { file, info, queue: Promise.resolve(), retired: false };
    const old = this.#open.get(path);
    this.#open.delete(path);
    if (old) this.#retire(old);
    this.#open.set(path, handle);
    while (this.#open.size > this.#max) {
      const [oldest, evicted] = this.#open.entries().next().value!;
      this.#open.delete(oldest);
      this.#retire(evicted);
    }
    return handle;
  }

  #forget(path: string): void {
    const held = this.#open.get(path);
    if (!held) return;
    this.#open.delete(path);
    this.#retire(held);
  }

  /** Close a handle no longer in the map once its queued reads are done. */
  #retire(handle: Handle): Promise<void> {
    handle.retired = true;
    return handle.queue.then(() => {
      try {
        handle.file.close();
      } catch { /* already closed */ }
    });
  }
}
