/**
 * Byte ranges of objects: validation, resolution against a size, the HTTP
 * `Range` header, and the error for a range that lies outside an object.
 *
 * Semantics follow HTTP (RFC 9110) as S3 implements them: a range that runs
 * past the end is cut at the end, a suffix longer than the object is the
 * whole object, and a range starting at or after the end — which includes
 * every range on an empty object — is not satisfiable.
 *
 * @module
 */

import { DesError, DesInputError } from "../core/errors.ts";
import type { RangeRequest, SuffixRange } from "./object_store.ts";

/** A range starts at or after the end of the object (HTTP 416). */
export class DesRangeNotSatisfiableError extends DesError {
  /** @param message which range and object @param context key, range, size when known */
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { code: "range-not-satisfiable", status: 416, context });
  }
}

/** A range resolved against an object's size: bytes `[start, end)`. */
export interface ResolvedRange {
  /** First byte. */
  start: number;
  /** One past the last byte. */
  end: number;
}

/** Whether `range` is a suffix range. */
export function isSuffixRange(range: RangeRequest): range is SuffixRange {
  return "suffix" in range;
}

/** Throw `DesInputError` unless `range` has non-negative integer offset and positive lengths. */
export function checkRange(range: RangeRequest, key: string): void {
  const bad = (what: string) =>
    new DesInputError(`invalid range for ${key}: ${what}`, { key, range: { ...range } });
  if (isSuffixRange(range)) {
    if (!Number.isSafeInteger(range.suffix) || range.suffix < 1) {
      throw bad("suffix must be a positive integer");
    }
    return;
  }
  if (!Number.isSafeInteger(range.offset) || range.offset < 0) {
    throw bad("offset must be a non-negative integer");
  }
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 1)) {
    throw bad("length must be a positive integer");
  }
}

/** The bytes `range` selects in an object of `size` bytes (the whole object without a range). */
export function resolveRange(
  range: RangeRequest | undefined,
  size: number,
  key: string,
): ResolvedRange {
  if (!range) return { start: 0, end: size };
  checkRange(range, key);
  if (isSuffixRange(range)) {
    if (size === 0) throw notSatisfiable(range, size, key);
    return { start: Math.max(0, size - range.suffix), end: size };
  }
  if (range.offset >= size) throw notSatisfiable(range, size, key);
  const end = range.length === undefined ? size : Math.min(size, range.offset + range.length);
  return { start: range.offset, end };
}

/** The HTTP `Range` header value of a (checked) range. */
export function rangeHeader(range: RangeRequest): string {
  if (isSuffixRange(range)) return `bytes=-${range.suffix}`;
  const last = range.length === undefined ? "" : String(range.offset + range.length - 1);
  return `bytes=${range.offset}-${last}`;
}

/** The error for a range outside an object; `size` when known. */
export function notSatisfiable(
  range: RangeRequest,
  size: number | undefined,
  key: string,
): DesRangeNotSatisfiableError {
  return new DesRangeNotSatisfiableError(
    `range ${rangeHeader(range)} is outside ${key}` +
      (size === undefined ? "" : ` (${size} bytes)`),
    { key, range: { ...range }, ...(size === undefined ? {} : { size }) },
  );
}
