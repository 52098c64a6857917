/**
 * `des pack-dir <dir> -o <path|s3://bucket/key>`: pack every regular file of
 * a directory tree into one DES container.
 *
 * The main thread walks the tree (directory reads only) and appends to the
 * container; a pool of Web Workers reads the files ahead of it in batches
 * (lstat, read, CRC-32C, SHA-256), so both cores work and the writer sees a
 * few large buffers instead of many small reads. Memory stays bounded by
 * the container's index: the walk keeps one name per file and the writer one
 * packed INDEX entry and META record.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { DEFAULT_BIG_FILE_THRESHOLD, DesWriter } from "../../format/mod.ts";
import type { ContainerSink } from "../../format/sink.ts";
import type { BigFileStore } from "../../format/big_file_store.ts";
import { contentTypeFor } from "../../core/content_type.ts";
import { loadConfig, parseByteSize } from "../../core/config.ts";
import { Progress } from "../../core/progress.ts";
import { DesInputError } from "../../core/errors.ts";
import { bigFilePrefix } from "../container_arg.ts";
import { parseLocalLocation } from "../../store/local_location.ts";
import { FileStatus } from "./pack_dir_read.ts";
import { ReaderPool, type ReaderPoolOptions } from "./pack_dir_pool.ts";

/**
 * Walk `root` and return the relative names (`/`-separated) of its regular
 * files in name order; symlinks and special files are counted as skipped.
 * Only directories are read here: sizes and times come with the file reads.
 */
export function walkNames(root: string): { names: string[]; skipped: number } {
  const names: string[] = [];
  let skipped = 0;
  const stack = [""];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const entry of Deno.readDirSync(dir === "" ? root : `${root}/${dir}`)) {
      const name = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory) stack.push(name);
      else if (entry.isFile) names.push(name);
      else skipped++;
    }
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { names, skipped };
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
    /** Reader workers and batching (default: one worker per CPU, at most 4). */
    readers?: ReaderPoolOptions;
  } = {},
): Promise<PackDirResult> {
  const root = resolve(dir);
  const st = await Deno.stat(root).catch(() => null);
  if (!st?.isDirectory) throw new DesInputError(`not a directory: ${dir}`, { dir });
  const { names, skipped: walkSkipped } = walkNames(root);
  const { sink, bigFiles, prefix } = await openOutput(output, options.createBucket ?? false);
  const threshold = options.bigFileThreshold ?? DEFAULT_BIG_FILE_THRESHOLD;
  const writer = await DesWriter.create(sink, {
    bigFileThreshold: threshold,
    bigFiles: { store: bigFiles, prefix },
    source: `file://${root}`,
  });
  const pool = new ReaderPool(options.readers);
  let bytes = 0, files = 0, skipped = walkSkipped, first = 0;
  try {
    for await (const batch of pool.read(root, names, threshold)) {
      const batchNames = names.slice(first, first + batch.status.length);
      first += batch.status.length;
      if (batch.error) {
        throw new DesInputError(
          `cannot read ${root}/${batch.error.name}: ${batch.error.message}`,
          { path: `${root}/${batch.error.name}` },
        );
      }
      let at = 0;
      for (let i = 0; i < batchNames.length; i++) {
        const name = batchNames[i];
        const size = batch.sizes[i];
        const path = `${root}/${name}`;
        const meta = {
          contentType: contentTypeFor(name),
          mtime: batch.mtimes[i],
          originalLocation: path,
        };
        if (batch.status[i] === FileStatus.skipped) {
          skipped++;
          continue;
        }
        if (batch.status[i] === FileStatus.big) {
          // Big files are streamed by the writer, never buffered whole.
          const file = await Deno.open(path);
          const length = (await file.stat()).size;
          await writer.append(name, file.readable, { ...meta, size: length });
          bytes += length;
        } else {
          await writer.append(name, batch.data.subarray(at, at + size), meta, {
            crc32c: batch.crc32c[i],
            sha256: batch.sha256.subarray(i * 32, i * 32 + 32),
          });
          at += size;
          bytes += size;
        }
        files++;
        options.progress?.tick(1, size);
      }
    }
    const summary = await writer.finish();
    return { files, bytes, size: summary.size, skipped, bigFiles: summary.bigFileKeys.length };
  } catch (e) {
    await writer.abort().catch(() => {});
    throw e;
  } finally {
    pool.close();
  }
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
