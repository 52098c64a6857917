/**
 * How the packer reads originals. Filesystem originals of up to
 * {@linkcode SYNC_READ_LIMIT} bytes are read with synchronous calls: for
 * small files each asynchronous file operation costs far more than the read
 * itself (measured: 5,000 × 4 KiB files, 1.7 s through `FsOriginals.read` at
 * concurrency 16, 0.2 s with `readFileSync`), and a blocked event loop of a
 * few microseconds per file is harmless. The checks are those of
 * `FsOriginals.read`: the location stays under the root, and so does the
 * file it resolves to through symlinks (directories resolved once per reader). Larger files and S3 originals go
 * through `Originals.read`.
 *
 * @module
 */

import { DesInputError, DesNotFoundError, DesUnavailableError } from "../core/errors.ts";
import { FsOriginals, type OriginalFile, type Originals } from "../parent/originals.ts";

/** Largest file read synchronously. */
export const SYNC_READ_LIMIT = 1024 * 1024;

/** Reads one original by its parent location. */
export type OriginalReader = (location: string) => Promise<OriginalFile>;

/** Resolved directories kept per reader before the cache starts over. */
const DIRECTORY_CACHE_LIMIT = 10_000;

/**
 * The fastest safe reader for `originals`. A file that is not a symlink
 * resolves to its directory's real path plus its name, so each directory is
 * resolved once (`realpath` costs a `readlink` per path component); a
 * symlinked file is resolved in full.
 */
export function originalReader(originals: Originals): OriginalReader {
  if (!(originals instanceof FsOriginals)) return (location) => originals.read(location);
  const root = originals.url.slice("file://".length);
  const realDirs = new Map<string, string>();
  let realRoot: string | undefined;
  const realDirOf = (dir: string): string => {
    let real = realDirs.get(dir);
    if (real === undefined) {
      if (realDirs.size >= DIRECTORY_CACHE_LIMIT) realDirs.clear();
      real = Deno.realPathSync(dir);
      realDirs.set(dir, real);
    }
    return real;
  };
  return (location) => {
    try {
      const path = originals.pathOf(location);
      realRoot ??= Deno.realPathSync(root);
      const link = Deno.lstatSync(path);
      const slash = path.lastIndexOf("/");
      const real = link.isSymlink
        ? Deno.realPathSync(path)
        : `${realDirOf(path.slice(0, slash) || "/")}/${path.slice(slash + 1)}`;
      if (!real.startsWith(realRoot === "/" ? "/" : realRoot + "/")) {
        throw new DesInputError(`original ${location} links outside ${root}`, { location, root });
      }
      const info = link.isSymlink ? Deno.statSync(real) : link;
      if (!info.isFile || info.size > SYNC_READ_LIMIT) return originals.read(location);
      const body = Deno.readFileSync(real);
      return Promise.resolve({ body, size: body.byteLength, mtime: info.mtime ?? undefined });
    } catch (error) {
      return Promise.reject(readError(error, location));
    }
  };
}

function readError(error: unknown, location: string): Error {
  if (error instanceof DesInputError || error instanceof DesNotFoundError) return error;
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
    return new DesNotFoundError(`original ${location} not found`, { location });
  }
  return new DesUnavailableError(
    `cannot read original ${location}: ${(error as Error).message}`,
    { location },
    error,
  );
}
