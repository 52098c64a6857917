/**
 * Object keys shared by every store: validation and ordering.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";

/** Prefix of the temporary names a store uses while writing; never a valid key segment. */
export const TEMP_PREFIX = ".des-tmp-";

/**
 * Check that `key` is a relative, `/`-separated path with no empty, `.` or `..`
 * segment, no backslash or NUL, and no segment that looks like a store's temp file.
 * Throws `DesInputError` naming the key otherwise.
 */
export function validateKey(key: string): string {
  const reason = keyProblem(key);
  if (reason) {
    throw new DesInputError(`invalid object key ${JSON.stringify(key)}: ${reason}`, { key });
  }
  return key;
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return "empty";
  if (key.length > 1024) return "longer than 1024 characters";
  if (key.startsWith("/")) return "absolute (starts with /)";
  if (key.includes("\\")) return "contains a backslash";
  if (key.includes("\0")) return "contains NUL";
  for (const segment of key.split("/")) {
    if (segment === "") return "has an empty path segment";
    if (segment === "." || segment === "..") return `has a '${segment}' segment`;
    if (segment.startsWith(TEMP_PREFIX)) return `has a segment starting with ${TEMP_PREFIX}`;
  }
  return undefined;
}

/**
 * Compare keys in S3 listing order (UTF-8 byte order, which equals code point order),
 * for use with `Array.prototype.sort`.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
