/**
 * FOOTER codec: the fixed 64 bytes that end a container and locate META and
 * INDEX. Layout in `docs/format.md` §FOOTER. The last 16 bytes (version,
 * footer CRC, end magic) keep their positions in every format version.
 *
 * @module
 */

import { DesChecksumError, DesFormatError } from "../core/errors.ts";
import { bytesEqual, readU64, toHex, u32Hex, viewOf, writeU64 } from "./binary.ts";
import { crc32c } from "./checksum.ts";
import {
  ENTRY_SIZE,
  FOOTER_FIELDS as F,
  FOOTER_MAGIC,
  FOOTER_SIZE,
  FORMAT_MAJOR,
  FORMAT_MINOR,
  HEADER_SIZE,
  MAX_DESCRIPTOR_BYTES,
  MAX_NAME_BYTES,
  MAX_TAIL_BYTES,
} from "./constants.ts";

/** The fields a writer provides; versions and the footer CRC are added by the encoder. */
export interface FooterFields {
  /** Absolute offset of META. */
  metaOffset: number;
  /** Length of META in bytes. */
  metaLength: number;
  /** Absolute offset of INDEX. */
  indexOffset: number;
  /** Length of INDEX in bytes (entries + name heap). */
  indexLength: number;
  /** Number of index entries. */
  entryCount: number;
  /** Length of the container descriptor at the start of META. */
  descriptorLength: number;
  /** CRC-32C of META. */
  metaCrc32c: number;
  /** CRC-32C of INDEX. */
  indexCrc32c: number;
}

/** The decoded FOOTER. */
export interface Footer extends FooterFields {
  /** Major format version. */
  major: number;
  /** Minor format version. */
  minor: number;
  /** Stored CRC-32C of footer bytes 0..51. */
  crc32c: number;
}

/** Encode a v1.0 FOOTER. */
export function encodeFooter(fields: FooterFields): Uint8Array {
  const bytes = new Uint8Array(FOOTER_SIZE);
  const view = viewOf(bytes);
  writeU64(view, F.metaOffset, fields.metaOffset);
  writeU64(view, F.metaLength, fields.metaLength);
  writeU64(view, F.indexOffset, fields.indexOffset);
  writeU64(view, F.indexLength, fields.indexLength);
  view.setUint32(F.entryCount, fields.entryCount, true);
  view.setUint32(F.descriptorLength, fields.descriptorLength, true);
  view.setUint32(F.metaCrc32c, fields.metaCrc32c, true);
  view.setUint32(F.indexCrc32c, fields.indexCrc32c, true);
  view.setUint16(F.major, FORMAT_MAJOR, true);
  view.setUint16(F.minor, FORMAT_MINOR, true);
  view.setUint32(F.crc32c, crc32c(bytes.subarray(0, F.crc32c)), true);
  bytes.set(FOOTER_MAGIC, F.magic);
  return bytes;
}

/**
 * Decode and check the FOOTER (the last 64 bytes of a container of
 * `containerSize` bytes): end magic, major version, CRC-32C, then every
 * offset and length against the container size and the format's limits,
 * so nothing is read or allocated from an implausible value.
 */
export function decodeFooter(bytes: Uint8Array, containerSize: number): Footer {
  if (bytes.byteLength !== FOOTER_SIZE) {
    throw new DesFormatError(`footer must be ${FOOTER_SIZE} bytes`, { length: bytes.byteLength });
  }
  if (!bytesEqual(bytes.subarray(F.magic), FOOTER_MAGIC)) {
    throw new DesFormatError("not a DES container (or truncated): bad footer magic", {
      magic: toHex(bytes.subarray(F.magic)),
    });
  }
  const view = viewOf(bytes);
  const major = view.getUint16(F.major, true);
  const minor = view.getUint16(F.minor, true);
  if (major !== FORMAT_MAJOR) {
    throw new DesFormatError(
      `unsupported DES format version ${major}.${minor}; this reader reads ${FORMAT_MAJOR}.x`,
      { found: `${major}.${minor}`, supported: `${FORMAT_MAJOR}.x` },
    );
  }
  const stored = view.getUint32(F.crc32c, true);
  const actual = crc32c(bytes.subarray(0, F.crc32c));
  if (stored !== actual) {
    throw new DesChecksumError("footer CRC-32C mismatch", {
      part: "footer",
      expected: u32Hex(stored),
      actual: u32Hex(actual),
    });
  }
  const footer: Footer = {
    metaOffset: readU64(view, F.metaOffset, "metaOffset"),
    metaLength: readU64(view, F.metaLength, "metaLength"),
    indexOffset: readU64(view, F.indexOffset, "indexOffset"),
    indexLength: readU64(view, F.indexLength, "indexLength"),
    entryCount: view.getUint32(F.entryCount, true),
    descriptorLength: view.getUint32(F.descriptorLength, true),
    metaCrc32c: view.getUint32(F.metaCrc32c, true),
    indexCrc32c: view.getUint32(F.indexCrc32c, true),
    major,
    minor,
    crc32c: stored,
  };
  checkLayout(footer, containerSize);
  return footer;
}

function checkLayout(f: Footer, size: number): void {
  const fail = (why: string): never => {
    throw new DesFormatError(`bad footer: ${why}`, {
      containerSize: size,
      metaOffset: f.metaOffset,
      metaLength: f.metaLength,
      indexOffset: f.indexOffset,
      indexLength: f.indexLength,
      entryCount: f.entryCount,
      descriptorLength: f.descriptorLength,
    });
  };
  if (f.metaOffset < HEADER_SIZE) fail("META starts inside the header");
  if (f.metaOffset + f.metaLength !== f.indexOffset) fail("INDEX does not follow META");
  if (f.indexOffset + f.indexLength + FOOTER_SIZE !== size) {
    fail("FOOTER does not follow INDEX at the end of the container");
  }
  if (size - f.metaOffset > MAX_TAIL_BYTES) {
    fail(`META+INDEX+FOOTER exceed ${MAX_TAIL_BYTES} bytes`);
  }
  if (f.descriptorLength < 2 || f.descriptorLength > f.metaLength) {
    fail("descriptor length outside META");
  }
  if (f.descriptorLength > MAX_DESCRIPTOR_BYTES) fail("descriptor too large");
  const entriesLength = f.entryCount * ENTRY_SIZE;
  if (entriesLength > f.indexLength) fail("entries do not fit in INDEX");
  const heapLength = f.indexLength - entriesLength;
  if (heapLength > f.entryCount * MAX_NAME_BYTES || heapLength < f.entryCount) {
    fail("name heap size does not match the entry count");
  }
}
