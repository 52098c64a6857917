/**
 * What must hold of an original before a single byte of it is opened: its
 * location is set, it stays under the source's root (also through
 * symlinks), and it is a regular file. Directories, FIFOs, sockets and
 * devices are refused on their `lstat`/`stat` alone: opening a FIFO blocks
 * until a writer appears, so it is never opened. A symlink loop and a
 * dangling symlink are named as such. Every refusal is permanent for the
 * row (`DesInputError` or `DesNotFoundError`); anything else the
 * filesystem reports stays a `DesUnavailableError`.
 *
 * The checks use synchronous metadata calls: they cost microseconds and are
 * shared by the packer's fast path and `FsOriginals.read`.
 *
 * @module
 */

import { DesInputError, DesNotFoundError, DesUnavailableError } from "../core/errors.ts";

/** A checked original: where it really is and what `stat` said about it. */
export interface RegularOriginal {
  /** The real path (symlinks resolved). */
  path: string;
  /** `stat` of the file. */
  info: Deno.FileInfo;
}

/**
 * Reject a location that cannot name a file: `null`, not text, empty or
 * only spaces, or containing NUL. Returns the location.
 */
export function checkLocation(location: unknown): string {
  if (typeof location !== "string" || location === "") {
    throw new DesInputError("the row has no location (NULL or empty)", {
      location: location ?? null,
    });
  }
  if (location.trim() === "" || location.includes("\0")) {
    throw new DesInputError(`the row has no usable location (${JSON.stringify(location)})`, {
      location,
    });
  }
  return location;
}

/** What kind of file `info` describes, in words. */
export function fileKind(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symlink";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "not a regular file";
}

/**
 * Check the original at the absolute `path` (already known to be inside
 * `root` by its text) against `realRoot`; see the module documentation.
 *
 * @param location the parent's location, for messages
 * @param path absolute path of the location under the root
 * @param root the configured root, for messages
 * @param realRoot the root with symlinks resolved
 * @param realDirOf resolves a directory's real path (may cache)
 */
export function checkRegularOriginal(
  location: string,
  path: string,
  root: string,
  realRoot: string,
  realDirOf: (dir: string) => string = Deno.realPathSync,
): RegularOriginal {
  try {
    const link = Deno.lstatSync(path);
    const slash = path.lastIndexOf("/");
    let real: string;
    if (link.isSymlink) {
      real = resolveLink(location, path);
    } else {
      real = `${realDirOf(path.slice(0, slash) || "/")}/${path.slice(slash + 1)}`;
    }
    if (!real.startsWith(realRoot === "/" ? "/" : realRoot + "/")) {
      throw new DesInputError(`original ${location} links outside ${root}`, { location, root });
    }
    const info = link.isSymlink ? Deno.statSync(real) : link;
    if (!info.isFile) {
      throw new DesInputError(
        `original ${location} is ${fileKind(info)}, not a regular file; it is never opened`,
        { location, path },
      );
    }
    return { path: real, info };
  } catch (error) {
    throw originalError(error, location, path);
  }
}

function resolveLink(location: string, path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.FilesystemLoop) {
      throw new DesInputError(`original ${location} is a symlink loop`, { location, path });
    }
    if (error instanceof Deno.errors.NotFound) {
      throw new DesNotFoundError(
        `original ${location} is a dangling symlink (its target does not exist)`,
        { location, path },
      );
    }
    throw error;
  }
}

/**
 * The DES error for a filesystem failure on an original: refusals pass
 * through, a missing file or directory is `DesNotFoundError`, a loop of
 * symlinks in a directory of the path is `DesInputError`, anything else is
 * `DesUnavailableError` (worth retrying).
 */
export function originalError(error: unknown, location: string, path?: string): Error {
  if (error instanceof DesInputError || error instanceof DesNotFoundError) return error;
  if (error instanceof DesUnavailableError) return error;
  const where = path ? ` (${path})` : "";
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
    return new DesNotFoundError(`original ${location} not found${where}`, { location, path });
  }
  if (error instanceof Deno.errors.FilesystemLoop) {
    return new DesInputError(`original ${location}: symlink loop in its path${where}`, {
      location,
      path,
    });
  }
  return new DesUnavailableError(
    `cannot read original ${location}${where}: ${(error as Error).message}`,
    { location, path },
    error,
  );
}
