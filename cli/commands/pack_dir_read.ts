/**
 * Reading one batch of the files `des pack-dir` packs: `lstat` (type, size
 * and mtime) of each, then every file up to the big-file threshold read
 * straight into one buffer of their total size (open, read, close: no buffer
 * per file, no copy) and both checksums computed on it. Runs in the
 * reader workers (see `pack_dir_pool.ts`) or, where workers are not
 * available, on the main thread.
 *
 * @module
 */

import { crc32c, sha256 } from "../../format/checksum.ts";

/** New batch buffers are a multiple of this size, so a recycled one fits the next batch. */
const BUFFER_STEP = 64 * 1024;

/** What happened to one file of a batch. */
export const FileStatus = {
  /** Read: its bytes are in `data`, its checksums in `crc32c` / `sha256`. */
  read: 0,
  /** Above the big-file threshold: not read, the writer streams it. */
  big: 1,
  /** No longer a regular file (replaced since the walk): skipped. */
  skipped: 2,
} as const;

/** A batch of files to read: names relative to `root`, `/`-separated. */
export interface ReadRequest {
  /** Batch number, echoed in the answer. */
  id: number;
  /** Absolute root of the packed tree. */
  root: string;
  /** Relative names. */
  names: string[];
  /** Files above this many bytes are not read. */
  threshold: number;
  /** A spent `data` buffer to read into when it is large enough (recycled, not reallocated). */
  buffer?: ArrayBuffer;
}

/** The answer to a {@linkcode ReadRequest}; typed arrays have one slot per name. */
export interface ReadBatch {
  /** Batch number of the request. */
  id: number;
  /** The names of the request (not sent back by a worker: the pool puts them here). */
  names: string[];
  /** Bodies of the read files, back to back in name order. */
  data: Uint8Array;
  /** One of {@linkcode FileStatus}. */
  status: Uint8Array;
  /** Size in bytes (read length for read files, lstat size otherwise). */
  sizes: Float64Array;
  /** Modification time in ms. */
  mtimes: Float64Array;
  /** CRC-32C of each read file. */
  crc32c: Uint32Array;
  /** SHA-256 of each read file, 32 bytes each. */
  sha256: Uint8Array;
  /** Set when a file could not be read: which one and why. */
  error?: { name: string; message: string };
}

/** Read one batch (synchronous calls: for small local files they cost least). */
export function readBatch(request: ReadRequest): ReadBatch {
  const count = request.names.length;
  const batch: ReadBatch = {
    id: request.id,
    names: request.names,
    data: new Uint8Array(0),
    status: new Uint8Array(count),
    sizes: new Float64Array(count),
    mtimes: new Float64Array(count),
    crc32c: new Uint32Array(count),
    sha256: new Uint8Array(count * 32),
  };
  const paths: string[] = new Array(count);
  let name = "";
  try {
    // lstat first: types (a symlink put in place of a file is skipped), sizes
    // and times; then every body straight into one buffer of their total size.
    let total = 0;
    for (let i = 0; i < count; i++) {
      name = request.names[i];
      paths[i] = `${request.root}/${name}`;
      const st = Deno.lstatSync(paths[i]);
      batch.mtimes[i] = st.mtime?.getTime() ?? 0;
      batch.sizes[i] = st.size;
      if (!st.isFile) batch.status[i] = FileStatus.skipped;
      else if (st.size > request.threshold) batch.status[i] = FileStatus.big;
      else total += st.size;
    }
    // + 1: room to see a file that grew since its lstat
    let data: Uint8Array = request.buffer && request.buffer.byteLength >= total + 1
      ? new Uint8Array(request.buffer)
      : new Uint8Array(Math.ceil((total + 1) / BUFFER_STEP) * BUFFER_STEP);
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (batch.status[i] !== FileStatus.read) continue;
      name = request.names[i];
      const file = Deno.openSync(paths[i]);
      const expected = batch.sizes[i];
      let size = 0;
      try {
        for (;;) {
          if (at + size === data.byteLength) data = grown(data, at + size);
          const room = data.byteLength - at - size;
          const n = file.readSync(data.subarray(at + size));
          if (n === null) break;
          size += n;
          // A read short of the room offered that ends at the lstat size is
          // the end of the file: no further read just to see it (a file that
          // grew fills the room and is read on).
          if (n < room && size === expected) break;
        }
      } finally {
        file.close();
      }
      batch.sizes[i] = size;
      if (size > request.threshold) { // it grew past the threshold since the lstat
        batch.status[i] = FileStatus.big;
        continue;
      }
      const body = data.subarray(at, at + size);
      batch.crc32c[i] = crc32c(body);
      batch.sha256.set(sha256(body), i * 32);
      at += size;
    }
    batch.data = data.subarray(0, at);
  } catch (error) {
    batch.error = { name, message: error instanceof Error ? error.message : String(error) };
  }
  return batch;
}

/** A copy of `data` with room for at least as much again as `used`. */
function grown(data: Uint8Array, used: number): Uint8Array {
  const bigger = new Uint8Array(Math.max(2 * used, 64 * 1024));
  bigger.set(data.subarray(0, used));
  return bigger;
}

/** The buffers of a batch, to transfer instead of copy. */
export function transferables(batch: ReadBatch): ArrayBuffer[] {
  return [
    batch.data.buffer,
    batch.status.buffer,
    batch.sizes.buffer,
    batch.mtimes.buffer,
    batch.crc32c.buffer,
    batch.sha256.buffer,
  ] as ArrayBuffer[];
}
