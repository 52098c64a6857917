/**
 * HEADER codec: the fixed 64 bytes at offset 0 that identify a DES
 * container. Layout in `docs/format.md` §HEADER.
 *
 * @module
 */

import { DesChecksumError, DesFormatError } from "../core/errors.ts";
import { bytesEqual, readU64, toHex, u32Hex, viewOf, writeU64 } from "./binary.ts";
import { crc32c } from "./checksum.ts";
import {
  CONTAINER_ID_BYTES,
  FORMAT_MAJOR,
  FORMAT_MINOR,
  HEADER_FIELDS as F,
  HEADER_MAGIC,
  HEADER_SIZE,
} from "./constants.ts";

/** The decoded HEADER. */
export interface Header {
  /** Major format version. */
  major: number;
  /** Minor format version. */
  minor: number;
  /** Header size in bytes (64 in v1.0; DATA starts here). */
  headerSize: number;
  /** Container id, 32 lower-case hex digits. */
  containerId: string;
  /** Creation time, ms since the Unix epoch. */
  createdAt: number;
  /** Stored CRC-32C of header bytes 0..59. */
  crc32c: number;
}

/** Encode a v1.0 HEADER for a container id (16 bytes) and creation time. */
export function encodeHeader(containerId: Uint8Array, createdAt: number): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE);
  const view = viewOf(bytes);
  bytes.set(HEADER_MAGIC, F.magic);
  view.setUint16(F.major, FORMAT_MAJOR, true);
  view.setUint16(F.minor, FORMAT_MINOR, true);
  view.setUint32(F.headerSize, HEADER_SIZE, true);
  bytes.set(containerId.subarray(0, CONTAINER_ID_BYTES), F.containerId);
  writeU64(view, F.createdAt, createdAt);
  view.setUint32(F.crc32c, crc32c(bytes.subarray(0, F.crc32c)), true);
  return bytes;
}

/**
 * Decode and check a HEADER from the first bytes of a container: magic,
 * major version, header size and CRC-32C. Throws `DesFormatError` or
 * `DesChecksumError`.
 */
export function decodeHeader(bytes: Uint8Array): Header {
  if (bytes.byteLength < HEADER_SIZE) {
    throw new DesFormatError("container is shorter than its header", {
      length: bytes.byteLength,
    });
  }
  if (!bytesEqual(bytes.subarray(F.magic, F.magic + HEADER_MAGIC.byteLength), HEADER_MAGIC)) {
    throw new DesFormatError("not a DES container: bad header magic", {
      magic: toHex(bytes.subarray(0, HEADER_MAGIC.byteLength)),
    });
  }
  const view = viewOf(bytes);
  const major = view.getUint16(F.major, true);
  const minor = view.getUint16(F.minor, true);
  if (major !== FORMAT_MAJOR) {
    throw new DesFormatError(
      `unsupported DES format version ${major}.${minor} in header; this reader reads ${FORMAT_MAJOR}.x`,
      { found: `${major}.${minor}`, supported: `${FORMAT_MAJOR}.x` },
    );
  }
  const stored = view.getUint32(F.crc32c, true);
  const actual = crc32c(bytes.subarray(0, F.crc32c));
  if (stored !== actual) {
    throw new DesChecksumError("header CRC-32C mismatch", {
      part: "header",
      expected: u32Hex(stored),
      actual: u32Hex(actual),
    });
  }
  const headerSize = view.getUint32(F.headerSize, true);
  if (headerSize < HEADER_SIZE) {
    throw new DesFormatError(`header size ${headerSize} is below ${HEADER_SIZE}`, { headerSize });
  }
  return {
    major,
    minor,
    headerSize,
    containerId: toHex(bytes.subarray(F.containerId, F.containerId + CONTAINER_ID_BYTES)),
    createdAt: readU64(view, F.createdAt, "createdAt"),
    crc32c: stored,
  };
}
