/**
 * `des pack-dir <dir> -o <path|s3://bucket/key>`: pack every regular file of
 * a directory tree into one DES container.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, relative, resolve } from "node:path";
import { DesWriter } from "../../format/mod.ts";
import { parseLocation } from "../../store/location.ts";
import { S3ObjectStore } from "../../store/s3.ts";
import { contentTypeFor } from "../../core/content_type.ts";
import { loadConfig, parseByteSize } from "../../core/config.ts";
import { Progress } from "../../core/progress.ts";
import { DesInputError } from "../../core/errors.ts";
import { bigFilePrefix } from "../container_arg.ts";

/** A regular file found under the packed directory. */
export interface FoundFile {
  /** Absolute path. */
  path: string;
  /** Name inside the container: the path relative to the root, `/`-separated. */
  name: string;
  /** Size in bytes at the time of the walk. */
  size: number;
  /** Modification time in ms. */
  mtime: number;
}

/** Walk `root` and return its regular files in name order; symlinks and special files are skipped. */
export async function walkFiles(root: string): Promise<{ files: FoundFile[]; skipped: number }> {
  const files: FoundFile[] = [];
  let skipped = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) stack.push(path);
      else if (entry.isFile) {
        const st = await Deno.lstat(path);
        files.push({
          path,
          name: relative(root, path).split("\\").join("/"),
          size: st.size,
          mtime: st.mtime?.getTime() ?? 0,
        });
      } else skipped++;
    }
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { files, skipped };
}

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

/**
 * Pack the regular files under `dir` into a container at `output`.
 * Files are read ahead with bounded concurrency while the writer appends in
 * name order.
 */
export async function packDirectory(
  dir: string,
  output: string,
  options: {
    bigFileThreshold?: number;
    progress?: Progress;
    readAhead?: number;
    createBucket?: boolean;
  } = {},
): Promise<PackDirResult> {
  const root = resolve(dir);
  const st = await Deno.stat(root).catch(() => null);
  if (!st?.isDirectory) throw new DesInputError(`not a directory: ${dir}`, { dir });
  const { files, skipped } = await walkFiles(root);
  const { store, key } = parseLocation(output);
  if (options.createBucket && store instanceof S3ObjectStore) await store.ensureBucket();
  const sink = await store.createWriter(key, { contentType: "application/vnd.des.container" });
  const writer = await DesWriter.create(sink, {
    bigFileThreshold: options.bigFileThreshold,
    bigFiles: { store, prefix: bigFilePrefix(key) },
    source: `file://${root}`,
  });
  const readAhead = options.readAhead ?? 16;
  const pending: Promise<Uint8Array>[] = [];
  const threshold = options.bigFileThreshold ?? 16 * 1024 * 1024;
  let next = 0;
  let bytes = 0;
  const schedule = () => {
    while (pending.length < readAhead && next < files.length) {
      const f = files[next++];
      // Big files are streamed by the writer, not buffered here.
      pending.push(f.size > threshold ? Promise.resolve(new Uint8Array(0)) : Deno.readFile(f.path));
    }
  };
  try {
    for (let i = 0; i < files.length; i++) {
      schedule();
      const f = files[i];
      const buffered = await pending.shift()!;
      const meta = {
        contentType: contentTypeFor(f.name),
        mtime: f.mtime,
        originalLocation: f.path,
      };
      if (f.size > threshold) {
        const file = await Deno.open(f.path);
        const size = (await file.stat()).size;
        await writer.add(f.name, file.readable, { ...meta, size });
        bytes += size;
      } else {
        await writer.add(f.name, buffered, meta);
        bytes += buffered.byteLength;
      }
      options.progress?.tick(1, f.size);
    }
    const summary = await writer.finish();
    return {
      files: files.length,
      bytes,
      size: summary.size,
      skipped,
      bigFiles: summary.bigFileKeys.length,
    };
  } catch (e) {
    await writer.abort().catch(() => {});
    throw e;
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
    },
  });
  if (positionals.length !== 1 || !values.output) {
    throw new DesInputError(
      "usage: des pack-dir <dir> -o <path|s3://bucket/key> [--create-bucket] [--big-file-threshold 16MiB]",
    );
  }
  const progress = new Progress("pack-dir");
  const threshold = values["big-file-threshold"]
    ? parseByteSize(values["big-file-threshold"])
    : loadConfig().bigFileThreshold;
  const r = await packDirectory(positionals[0], values.output, {
    bigFileThreshold: threshold,
    progress,
    createBucket: values["create-bucket"],
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
