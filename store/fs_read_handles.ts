/**
 * Open read handles of the filesystem store, so that a read of a small
 * range costs a `stat` of the path, a seek and a read instead of an open,
 * a `stat`, a seek, a read and a close — and no hop through the runtime's
 * blocking thread pool: for ranges this small (at most
 * `HANDLE_READ_LIMIT`, from the page cache in the common case) the
 * synchronous calls are far cheaper than the hand-offs, and being
 * synchronous, a seek and its read can never interleave with another read
 * of the same handle.
 *
 * - **Bounded**: an LRU of at most `maxHandles` open files; an evicted
 *   handle is closed at once, and {@linkcode ReadHandles.close} closes them
 *   all.
 * - **Safe when a file is replaced**: every read first `stat`s the path; a
 *   handle is used only while the path still names the very file it has
 *   open (size, mtime and inode, the object's ETag). A replaced or deleted
 *   object is reopened or reported missing, exactly as a fresh open would.
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
  closed: boolean;
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
      const etag = this.#currentEtag(path, key);
      let handle = this.#open.get(path);
      if (handle && handle.info.etag === etag) {
        // Most recently used last.
        this.#open.delete(path);
        this.#open.set(path, handle);
      } else {
        handle = await this.#reopen(path, key);
      }
      // Evicted while this read waited for its open: look again.
      if (handle.closed) {
        if (attempt < 10) continue;
        throw new DesConflictError(`${key} could not be kept open while being read`, { key });
      }
      const { start, length } = choose(handle.info);
      return { info: handle.info, start, bytes: readAt(handle, start, length) };
    }
  }

  /** Close every handle. */
  close(): Promise<void> {
    for (const handle of this.#open.values()) retire(handle);
    this.#open.clear();
    return Promise.resolve();
  }

  #currentEtag(path: string, key: string): string {
    let stat: Deno.FileInfo;
    try {
      stat = Deno.statSync(path);
    } catch (error) {
      this.#forget(path);
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new DesNotFoundError(`no object ${key}`, { key, path });
      }
      throw fsError(error, "stat", path);
    }
    if (!stat.isFile) throw new DesNotFoundError(`no object ${key}`, { key, path });
    return fileInfo(key, stat).etag;
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
    const handle: Handle = { file, info, closed: false };
    const old = this.#open.get(path);
    this.#open.delete(path);
    if (old) retire(old);
    this.#open.set(path, handle);
    while (this.#open.size > this.#max) {
      const [oldest, evicted] = this.#open.entries().next().value!;
      this.#open.delete(oldest);
      retire(evicted);
    }
    return handle;
  }

  #forget(path: string): void {
    const held = this.#open.get(path);
    if (!held) return;
    this.#open.delete(path);
    retire(held);
  }
}

/** `length` bytes of the file of `handle` from `start` (synchronous: nothing can move its position between). */
function readAt(handle: Handle, start: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  handle.file.seekSync(start, Deno.SeekMode.Start);
  let at = 0;
  while (at < length) {
    const n = handle.file.readSync(bytes.subarray(at));
    if (n === null) {
      throw new DesConflictError(`${handle.info.key} became shorter while being read`, {
        key: handle.info.key,
        remaining: length - at,
      });
    }
    at += n;
  }
  return bytes;
}

/** Close a handle that left the map. */
function retire(handle: Handle): void {
  if (handle.closed) return;
  handle.closed = true;
  try {
    handle.file.close();
  } catch { /* already closed */ }
}
