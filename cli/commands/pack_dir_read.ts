/**
 * Reading one batch of the files `des pack-dir` packs: `lstat` (size and
 * mtime), then a whole-file read and both checksums for every file up to the
 * big-file threshold, all bodies of the batch in one buffer. Runs in the
 * reader workers (see `pack_dir_pool.ts`) or, where workers are not
 * available, on the main thread.
 *
 * @module
 */

import { crc32c, sha256 } from "../../format/checksum.ts";

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
}

/** The answer to a {@linkcode ReadRequest}; typed arrays have one slot per name. */
export interface ReadBatch {
  /** Batch number of the request. */
  id: number;
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
    data: new Uint8Array(0),
    status: new Uint8Array(count),
    sizes: new Float64Array(count),
    mtimes: new Float64Array(count),
    crc32c: new Uint32Array(count),
    sha256: new Uint8Array(count * 32),
  };
  const bodies: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const name = request.names[i];
    const path = `${request.root}/${name}`;
    try {
      const st = Deno.lstatSync(path);
      batch.mtimes[i] = st.mtime?.getTime() ?? 0;
      if (!st.isFile) {
        batch.status[i] = FileStatus.skipped;
        continue;
      }
      if (st.size > request.threshold) {
        batch.status[i] = FileStatus.big;
        batch.sizes[i] = st.size;
        continue;
      }
      const body = Deno.readFileSync(path);
      if (body.byteLength > request.threshold) { // it grew past the threshold since the lstat
        batch.status[i] = FileStatus.big;
        batch.sizes[i] = body.byteLength;
        continue;
      }
      batch.sizes[i] = body.byteLength;
      batch.crc32c[i] = crc32c(body);
      batch.sha256.set(sha256(body), i * 32);
      bodies.push(body);
      total += body.byteLength;
    } catch (error) {
      batch.error = { name, message: error instanceof Error ? error.message : String(error) };
      return batch;
    }
  }
  batch.data = bodies.length === 1 ? bodies[0] : new Uint8Array(total);
  if (bodies.length > 1) {
    let at = 0;
    for (const body of bodies) {
      batch.data.set(body, at);
      at += body.byteLength;
    }
  }
  return batch;
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
