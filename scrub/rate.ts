/**
 * The scrubber's `--rate` option: a byte rate such as `50MiB/s`, `512KiB/s`
 * or `1048576` (bytes per second).
 *
 * @module
 */

import { parseByteSize } from "../core/config.ts";
import { DesInputError } from "../core/errors.ts";

/** Parse a byte rate into bytes per second; `DesInputError` with an example on bad input. */
export function parseByteRate(raw: string): number {
  const m = /^\s*([^/]+?)\s*(?:\/\s*s)?\s*$/.exec(raw);
  let bytes = NaN;
  try {
    if (m) bytes = parseByteSize(m[1]);
  } catch { /* reported below */ }
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new DesInputError(
      `--rate ${JSON.stringify(raw)}: expected a byte rate of at least 1 byte per second, ` +
        "such as 50MiB/s, 512KiB/s or 1048576",
      { rate: raw },
    );
  }
  return bytes;
}
