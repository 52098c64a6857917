/**
 * Argument and range checks shared by the {@linkcode RangeSource}
 * implementations.
 *
 * @module
 */

import { DesFormatError, DesInputError } from "../core/errors.ts";

/** Size of the chunks a file or memory stream delivers. */
export const STREAM_CHUNK_BYTES = 256 * 1024;

/** `DesInputError` unless `length` is a non-negative safe integer. */
export function checkLength(length: number, what = "length"): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new DesInputError(`${what} must be a non-negative integer`, { [what]: length });
  }
}

/** Check arguments, then `DesFormatError` when the range ends beyond `size` (a short read). */
export function checkRange(url: string, offset: number, length: number, size: number): void {
  checkLength(offset, "offset");
  checkLength(length);
  if (offset + length > size) {
    throw new DesFormatError("short read: range beyond the end of the source", {
      source: url,
      offset,
      length,
      size,
    });
  }
}
