/**
 * `des pack-dir <dir> -o <path|s3://bucket/key>`: pack every regular file of
 * a directory tree into one DES container.
 *
 * The main thread walks the tree lazily (directory reads only) and appends
 * to the container; the files are read in batches (lstat, read, CRC-32C,
 * SHA-256) on the main thread or, with `--readers N`, ahead of it in a pool
 * of Web Workers, and each batch reaches the container in writes of up to a
 * sink chunk while the next one is read. Memory stays bounded by the container's index: the walk holds one
 * directory listing per level, at most `workers × depth` batches are in
 * flight, and the writer keeps one packed INDEX entry, name and META record
 * per file (no JavaScript object or string).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { DEFAULT_BIG_FILE_THRESHOLD } from "../../format/constants.ts";
import { DesWriter, type RunFile } from "../../format/writer.ts";
import { DEFAULT_SINK_CHUNK } from "../../format/buffered_sink.ts";
import type { ContainerSink } from "../../format/sink.ts";
import type { BigFileStore } from "../../format/big_file_store.ts";
import { contentTypeFor } from "../../core/content_type.ts";
import { loadConfig, parseByteSize } from "../../core/config.ts";
import { Progress } from "../../core/progress.ts";
import { DesInputError } from "../../core/errors.ts";
import { bigFilePrefix } from "../container_arg.ts";
import { parseLocalLocation } from "../../store/local_location.ts";
import { FileStatus, type ReadBatch } from "./pack_dir_read.ts";
import { ReaderPool, type ReaderPoolOptions } from "./pack_dir_pool.ts";

/**
 * The regular files under a root, walked lazily: relative names
 * (`/`-separated) in name order, one directory listing held per level of
 * the walk, so memory does not grow with the number of files. Symlinks and
 * special files are counted in {@linkcode skipped}. Only directories are
 * read: sizes and times come with the file reads.
 */
export class TreeWalk {
  /** Entries that were neither regular files nor directories (so far). */
  skipped = 0;
  readonly #root: string;

  /** @param root absolute path of the tree */
  constructor(root: string) {
    this.#root = root;
  }

  /**
   * The names, in the order a sort of the full relative names would give:
   * each directory's entries are sorted with a directory compared as its
   * name followed by `/`, the prefix of every name under it.
   */
  *names(): Generator<string> {
    const stack: { dir: string; keys: string[]; at: number }[] = [this.#list("")];
    while (stack.length > 0) {
      const level = stack[stack.length - 1];
      if (level.at === level.keys.length) {
        stack.pop();
        continue;
      }
      const key = level.keys[level.at++];
      const name = level.dir === "" ? key : `${level.dir}/${key}`;
      if (key.endsWith("/")) stack.push(this.#list(name.slice(0, -1)));
      else yield name;
    }
  }

  /** Sorted keys of one directory: file names, and directory names + `/`. */
  #list(dir: string): { dir: string; keys: string[]; at: number } {
    const keys: string[] = [];
    for (const entry of Deno.readDirSync(dir === "" ? this.#root : `${this.#root}/${dir}`)) {
      if (entry.isDirectory) keys.push(`${entry.name}/`);
      else if (entry.isFile) keys.push(entry.name);
      else this.skipped++;
    }
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { dir, keys, at: 0 };
  }
}

/**
 * Walk `root` whole and return the relative names (`/`-separated) of its
 * regular files in name order; symlinks and special files are counted as
 * skipped.
 */
export function walkNames(root: string): { names: string[]; skipped: number } {
  const walk = new TreeWalk(root);
  const names = [...walk.names()];
  return { names, skipped: walk.skipped };
}

/** Usage of `des pack-dir` without the leading `des `. */
export const PACK_DIR_USAGE =
  "pack-dir <dir> -o <path|s3://bucket/key> [--create-bucket] [--big-file-threshold 16MiB] " +
  "[--readers N]";

/** Result of {@linkcode packDirectory}. */
export interface PackDirResult {
  /** Files packed. */
  files: number;
  /** Content bytes packed. */
  bytes: number;
  /** Container size. */
  size: number;
  /** Entries that were not regular files. */
  skipped: number;
  /** Big files written as separate objects. */
  bigFiles: number;
}

/** Where the container goes: its sink, the store for big files and their key prefix. */
interface Output {
  sink: ContainerSink;
  bigFiles: BigFileStore;
  prefix: string;
}

/** Open the output; the S3 client is loaded only for `s3://` outputs. */
async function openOutput(output: string, createBucket: boolean): Promise<Output> {
  const { store, key } = output.startsWith("s3://")
    ? (await import("../../store/location.ts")).parseLocation(output)
    : parseLocalLocation(output);
  if (createBucket) await store.ensureBucket();
  const sink = await store.createWriter(key, { contentType: "application/vnd.des.container" });
  return { sink, bigFiles: store, prefix: bigFilePrefix(key) };
}

/**
 * Pack the regular files under `dir` into a container at `output`, in name
 * order.
 */
export async function packDirectory(
  dir: string,
  output: string,
  options: {
    bigFileThreshold?: number;
    progress?: Progress;
    createBucket?: boolean;
    /** Reader workers and batching (default: no worker, read on the main thread). */
    readers?: ReaderPoolOptions;
  } = {},
): Promise<PackDirResult> {
  const root = resolve(dir);
  const st = await Deno.stat(root).catch(() => null);
  if (!st?.isDirectory) throw new DesInputError(`not a directory: ${dir}`, { dir });
  const walk = new TreeWalk(root);
  const { sink, bigFiles, prefix } = await openOutput(output, options.createBucket ?? false);
  const threshold = options.bigFileThreshold ?? DEFAULT_BIG_FILE_THRESHOLD;
  const writer = await DesWriter.create(sink, {
    bigFileThreshold: threshold,
    bigFiles: { store: bigFiles, prefix },
    source: `file://${root}`,
  });
  const pool = new ReaderPool(options.readers);
  const counts = { files: 0, bytes: 0, skipped: 0 };
  // The run of one batch is written while the next batch is read.
  let writing: Promise<void> = Promise.resolve();
  try {
    for await (const batch of pool.read(root, walk.names(), threshold)) {
      if (batch.error) {
        throw new DesInputError(
          `cannot read ${root}/${batch.error.name}: ${batch.error.message}`,
          { path: `${root}/${batch.error.name}` },
        );
      }
      await writing;
      writing = appendBatch(writer, root, batch, counts, options.progress).then((copied) => {
        // runs shorter than a sink chunk are copied by the writer; longer ones may be kept
        if (copied) pool.recycle(batch.data.buffer as ArrayBuffer);
      });
      writing.catch(() => {}); // awaited above or below; never an unhandled rejection
    }
    await writing;
    const summary = await writer.finish();
    return {
      files: counts.files,
      bytes: counts.bytes,
      size: summary.size,
      skipped: counts.skipped + walk.skipped,
      bigFiles: summary.bigFileKeys.length,
    };
  } catch (e) {
    await writing.catch(() => {});
    await writer.abort().catch(() => {});
    throw e;
  } finally {
    pool.close();
  }
}

/**
 * Hand one read batch to the writer: its read files as runs (one sink write
 * each, each shorter than a sink chunk when its files are, so that the
 * writer copies it), its big files streamed from disk between them, in name
 * order. Resolves to whether every run was copied: then the batch's buffer
 * may be reused.
 */
async function appendBatch(
  writer: DesWriter,
  root: string,
  batch: ReadBatch,
  counts: { files: number; bytes: number; skipped: number },
  progress?: Progress,
): Promise<boolean> {
  let run: RunFile[] = [];
  let runStart = 0, at = 0, runFirst = 0;
  let copied = true;
  const flush = async () => {
    if (run.length === 0) return;
    if (at - runStart >= DEFAULT_SINK_CHUNK) copied = false;
    await writer.appendRun(run, batch.data.subarray(runStart, at), {
      crc32c: batch.crc32c.subarray(runFirst, runFirst + run.length),
      sha256: batch.sha256.subarray(runFirst * 32, (runFirst + run.length) * 32),
    });
    run = [];
    runStart = at;
  };
  for (let i = 0; i < batch.names.length; i++) {
    const name = batch.names[i];
    const status = batch.status[i];
    if (status === FileStatus.skipped) {
      counts.skipped++;
      continue;
    }
    const meta = {
      contentType: contentTypeFor(name),
      mtime: batch.mtimes[i],
      originalLocation: `${root}/${name}`,
    };
    const size = batch.sizes[i];
    if (status === FileStatus.big) {
      await flush();
      // Big files are streamed by the writer, never buffered whole.
      const file = await Deno.open(meta.originalLocation);
      const length = (await file.stat()).size;
      await writer.append(name, file.readable, { ...meta, size: length });
      counts.bytes += length;
    } else {
      if (
        run.length > 0 &&
        (runFirst + run.length !== i || at + size - runStart >= DEFAULT_SINK_CHUNK)
      ) {
        // a skipped file in between (the checksums of a run are contiguous), or a full chunk
        await flush();
      }
      if (run.length === 0) runFirst = i;
      run.push({ name, size, meta });
      at += size;
      counts.bytes += size;
    }
    counts.files++;
    progress?.tick(1, size);
  }
  await flush();
  return copied;
}

/** CLI entry. */
export async function packDirCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      "big-file-threshold": { type: "string" },
      "create-bucket": { type: "boolean" },
      readers: { type: "string" },
    },
  });
  if (positionals.length !== 1 || !values.output) {
    throw new DesInputError(
      `usage: des ${PACK_DIR_USAGE}`,
    );
  }
  const readers = values.readers === undefined ? undefined : Number(values.readers);
  if (readers !== undefined && !(Number.isInteger(readers) && readers >= 0 && readers <= 64)) {
    throw new DesInputError(`--readers must be an integer in 0..64, got ${values.readers}`);
  }
  const progress = new Progress("pack-dir");
  const threshold = values["big-file-threshold"]
    ? parseByteSize(values["big-file-threshold"])
    : loadConfig().bigFileThreshold;
  const r = await packDirectory(positionals[0], values.output, {
    bigFileThreshold: threshold,
    progress,
    createBucket: values["create-bucket"],
    readers: { workers: readers },
  });
  console.log(
    progress.done(
      `container ${r.size} bytes at ${values.output}` +
        (r.bigFiles ? `, ${r.bigFiles} big files` : "") +
        (r.skipped ? `, ${r.skipped} non-regular entries skipped` : ""),
    ),
  );
  return 0;
}
