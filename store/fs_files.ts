/**
 * Filesystem building blocks of {@linkcode FsObjectStore}: ETags from file metadata,
 * temp files that become visible atomically, bounded streams of a file's
 * bytes, and mapping of OS errors to DES errors.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { DesConflictError, DesError, DesUnavailableError } from "../core/errors.ts";
import { TEMP_PREFIX } from "./keys.ts";
import type { ObjectInfo } from "./object_store.ts";

const READ_CHUNK = 256 * 1024;

/** Object metadata from a file's stat: ETag = hex size, mtime (ms) and inode. */
export function fileInfo(key: string, stat: Deno.FileInfo): ObjectInfo {
  const mtime = stat.mtime?.getTime() ?? 0;
  const etag = [stat.size, mtime, stat.ino ?? 0].map((n) => n.toString(16)).join("-");
  return { key, size: stat.size, etag, lastModified: new Date(mtime) };
}

/** A fresh temp file name beside `path` (never a valid key, skipped by listings). */
export function tempPathFor(path: string): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return join(dirname(path), `${TEMP_PREFIX}${hex}`);
}

/**
 * Make the finished temp file `temp` visible as `path`: fsync, then rename
 * (replace) or, with `exclusive`, hard-link (fails if `path` exists), then
 * fsync the directory. The temp name is gone afterwards in every case.
 */
export async function publish(
  file: Deno.FsFile,
  temp: string,
  path: string,
  exclusive: boolean,
): Promise<Deno.FileInfo> {
  try {
    await file.syncData();
    const stat = await file.stat();
    file.close();
    if (exclusive) {
      await Deno.link(temp, path);
      await Deno.remove(temp);
    } else {
      await Deno.rename(temp, path);
    }
    await syncDir(dirname(path));
    return stat;
  } catch (error) {
    await discard(file, temp);
    throw error;
  }
}

/** Close `file` if still open and remove `temp`, ignoring errors. */
export async function discard(file: Deno.FsFile, temp: string): Promise<void> {
  try {
    file.close();
  } catch { /* already closed */ }
  await Deno.remove(temp).catch(() => {});
}

async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Create a new temp file beside `path`, making the parent directories. */
export async function createTemp(path: string): Promise<{ file: Deno.FsFile; temp: string }> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = tempPathFor(path);
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
  return { file, temp };
}

/** Write all of `bytes` to `file`. */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await file.write(bytes.subarray(at));
}

/**
 * A stream of `length` bytes of `file` from its current position; closes
 * the file at the end, on error and on cancel.
 */
export function fileRangeStream(
  file: Deno.FsFile,
  length: number,
  path: string,
): ReadableStream<Uint8Array> {
  let remaining = length;
  let closed = false;
  const close = () => {
    if (!closed) file.close();
    closed = true;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (remaining === 0) {
        close();
        controller.close();
      }
    },
    async pull(controller) {
      try {
        const buffer = new Uint8Array(Math.min(READ_CHUNK, remaining));
        const n = await file.read(buffer);
        if (n === null) {
          throw new DesConflictError(`${path} became shorter while being read`, {
            path,
            remaining,
          });
        }
        remaining -= n;
        controller.enqueue(buffer.subarray(0, n));
        if (remaining === 0) {
          close();
          controller.close();
        }
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}

/**
 * Map an OS error to a DES error: a key that collides with a directory (or a
 * file where a directory is needed) is a conflict; anything else means the
 * store is unusable.
 */
export function fsError(error: unknown, op: string, path: string): Error {
  if (error instanceof DesError) return error;
  if (
    error instanceof Deno.errors.IsADirectory || error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.AlreadyExists
  ) {
    return new DesConflictError(`cannot ${op} ${path}: a file or directory is in the way`, {
      path,
      reason: String(error),
    });
  }
  return new DesUnavailableError(`cannot ${op} ${path}: ${error}`, { path }, error);
}
