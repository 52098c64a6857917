/**
 * How the packer reads originals: every read is bounded by a timeout and
 * retried a configured number of times when it failed for a reason that may
 * pass (a timeout, an unavailable store); a reason that will not pass (no
 * location, not found, not a regular file, a symlink loop) fails at once.
 *
 * Filesystem originals of up to {@linkcode SYNC_READ_LIMIT} bytes are read
 * with synchronous calls: for small files each asynchronous file operation
 * costs far more than the read itself (measured: 5,000 × 4 KiB files, 1.7 s
 * through `FsOriginals.read` at concurrency 16, 0.2 s with `readFileSync`),
 * and a blocked event loop of a few microseconds per file is harmless. The
 * checks are those of `FsOriginals.read` (`checkRegularOriginal`): the
 * location stays under the root, and so does the file it resolves to
 * through symlinks (directories resolved once per reader), and only a
 * regular file is opened. Larger files and S3 originals go through
 * `Originals.read`, which the timeout can stop.
 *
 * @module
 */

import { DesInputError, DesNotFoundError, DesUnavailableError } from "../core/errors.ts";
import { checkRegularOriginal, originalError } from "../parent/original_checks.ts";
import { FsOriginals, type OriginalFile, type Originals } from "../parent/originals.ts";

/** Largest file read synchronously. */
export const SYNC_READ_LIMIT = 1024 * 1024;

/** Reads one original by its parent location. */
export type OriginalReader = (location: string) => Promise<OriginalFile>;

/** Bounds of each read. */
export interface ReadBounds {
  /** Time one attempt may take, in ms (`DES_ORIGINAL_READ_TIMEOUT`). */
  timeoutMs: number;
  /** Attempts after the first one for a failure that may pass (`DES_ORIGINAL_READ_RETRIES`). */
  retries: number;
  /** Wait before retry n is n times this, in ms (default 250). */
  retryDelayMs?: number;
}

/** Default bounds: the defaults of the settings. */
export const DEFAULT_READ_BOUNDS: ReadBounds = { timeoutMs: 60_000, retries: 2 };

/** Resolved directories kept per reader before the cache starts over. */
const DIRECTORY_CACHE_LIMIT = 10_000;

/** Whether a failed read will fail the same way again (the row is dead-lettered at once). */
export function isPermanentReadError(error: unknown): boolean {
  return error instanceof DesNotFoundError || error instanceof DesInputError;
}

/**
 * The fastest safe reader for `originals`, each attempt bounded by
 * `bounds.timeoutMs` and retried `bounds.retries` times unless the failure
 * is permanent ({@linkcode isPermanentReadError}).
 */
export function originalReader(
  originals: Originals,
  bounds: ReadBounds = DEFAULT_READ_BOUNDS,
): OriginalReader {
  const readSmall = syncReader(originals);
  const delay = bounds.retryDelayMs ?? 250;
  return async (location) => {
    for (let n = 0;; n++) {
      try {
        // A synchronous read ends before any timer could fire: it needs no timeout.
        const small = readSmall?.(location);
        if (small) return small;
        return await within(
          bounds.timeoutMs,
          `reading original ${location}`,
          (signal) => originals.read(location, { signal }),
        );
      } catch (error) {
        if (isPermanentReadError(error) || n >= bounds.retries) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, delay * (n + 1)));
    }
  };
}

/**
 * Check that the storage of `originals` answers, within `timeoutMs`
 * (`Originals.probe`). Throws when it does not.
 */
export function probeOriginals(originals: Originals, timeoutMs: number): Promise<void> {
  return within(timeoutMs, `checking originals at ${originals.url}`, () => originals.probe());
}

/** One attempt: rejects with a `DesUnavailableError` naming the timeout when it takes too long. */
async function within<T>(
  timeoutMs: number,
  what: string,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(
      new DesUnavailableError(`${what} timed out after ${timeoutMs / 1000} s`, { timeoutMs }),
    );
  }, timeoutMs);
  const stopped = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason));
  });
  stopped.catch(() => {});
  try {
    // The race also ends an attempt whose storage ignores the signal.
    return await Promise.race([run(controller.signal), stopped]);
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For filesystem originals: read a file of up to {@linkcode SYNC_READ_LIMIT}
 * bytes synchronously after the checks; `undefined` for a larger one (read
 * through `Originals.read`). Throws the read's typed error.
 */
function syncReader(
  originals: Originals,
): ((location: string) => OriginalFile | undefined) | undefined {
  if (!(originals instanceof FsOriginals)) return undefined;
  const root = originals.url.slice("file://".length);
  const realDirs = new Map<string, string>();
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
      const { path: real, info } = checkRegularOriginal(
        location,
        path,
        root,
        originals.realRoot(),
        realDirOf,
      );
      if (info.size > SYNC_READ_LIMIT) return undefined;
      const body = Deno.readFileSync(real);
      return { body, size: body.byteLength, mtime: info.mtime ?? undefined };
    } catch (error) {
      throw originalError(error, location);
    }
  };
}
