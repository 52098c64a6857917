/**
 * Object keys of big files: `<prefix>_bigFiles/<container-id-hex>/<name>`,
 * with the name percent-encoded into one safe key segment.
 *
 * @module
 */

import { toHex } from "./binary.ts";
import { sha256 } from "./checksum.ts";
import { BIG_FILES_FOLDER } from "./constants.ts";

/** Longest encoded name kept as is; longer ones are replaced by a digest. */
export const MAX_NAME_SEGMENT = 200;

const encoder = new TextEncoder();

/**
 * Encode a file name as one key segment: bytes outside `[A-Za-z0-9._-]` become
 * `%XX` (so `/` and `~` are always encoded), a leading `.` becomes `%2E`, and
 * an encoding longer than {@linkcode MAX_NAME_SEGMENT} characters is replaced by
 * `~` + the hex SHA-256 of the name (`~` never appears in an encoded name).
 */
export function nameSegment(name: string): string {
  const bytes = encoder.encode(name);
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    const plain = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x5f ||
      (byte === 0x2e && i > 0);
    out += plain
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out.length <= MAX_NAME_SEGMENT ? out : `~${toHex(sha256(bytes))}`;
}

/** The object key of big file `name` of container `containerId` under `prefix`. */
export function bigFileKey(prefix: string, containerId: string, name: string): string {
  return `${prefix}${BIG_FILES_FOLDER}/${containerId}/${nameSegment(name)}`;
}
