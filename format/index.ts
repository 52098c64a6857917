/**
 * INDEX codec: `entry_count` fixed-size entries sorted by name (byte-wise
 * UTF-8 order) followed by a name heap. Entries are decoded lazily from the
 * bytes, so a lookup is a binary search in place. Layout in
 * `docs/format.md` §INDEX.
 *
 * @module
 */

import { DesFormatError, DesInputError } from "../core/errors.ts";
import { compareBytes, readU64, viewOf, writeU64 } from "./binary.ts";
import {
  ENTRY_FIELDS as F,
  ENTRY_SIZE,
  FLAG_EXTERNAL,
  MAX_META_RECORD_BYTES,
  MAX_NAME_BYTES,
  SHA256_BYTES,
} from "./constants.ts";
import { decodeName } from "./names.ts";

/** One file of a container, as its INDEX entry describes it. */
export interface IndexEntry {
  /** File name. */
  name: string;
  /** Raw flags (bit 0: external). */
  flags: number;
  /** Whether the content is a separate object (see the meta record's `externalKey`). */
  external: boolean;
  /** Absolute offset of the content in the container (0 for external files). */
  dataOffset: number;
  /** Content size in bytes. */
  size: number;
  /** Absolute offset of the file's meta record. */
  metaOffset: number;
  /** Length of the file's meta record. */
  metaLength: number;
  /** CRC-32C of the content. */
  crc32c: number;
  /** SHA-256 of the content (32 bytes). */
  sha256: Uint8Array;
}

/** What the encoder needs for one entry: the name as UTF-8 bytes plus the entry fields. */
export interface IndexRecord {
  /** File name, UTF-8. */
  nameBytes: Uint8Array;
  /** Flags. */
  flags: number;
  /** Absolute content offset (0 for external files). */
  dataOffset: number;
  /** Content size. */
  size: number;
  /** Absolute meta record offset. */
  metaOffset: number;
  /** Meta record length. */
  metaLength: number;
  /** CRC-32C of the content. */
  crc32c: number;
  /** SHA-256 of the content. */
  sha256: Uint8Array;
}

/** Where entries may point: DATA and the per-file part of META (absolute, end exclusive). */
export interface IndexBounds {
  /** First byte of DATA. */
  dataStart: number;
  /** End of DATA (= start of META). */
  dataEnd: number;
  /** First byte after the container descriptor. */
  metaRecordsStart: number;
  /** End of META. */
  metaEnd: number;
}

/**
 * Encode INDEX from records already sorted by name (strictly ascending
 * byte order); `DesInputError` if they are not.
 */
export function encodeIndex(records: readonly IndexRecord[]): Uint8Array {
  let heapLength = 0;
  for (let i = 0; i < records.length; i++) {
    if (i > 0 && compareBytes(records[i - 1].nameBytes, records[i].nameBytes) >= 0) {
      throw new DesInputError("index records are not sorted by name or contain a duplicate", {
        position: i,
      });
    }
    heapLength += records[i].nameBytes.byteLength;
  }
  const entriesLength = records.length * ENTRY_SIZE;
  const bytes = new Uint8Array(entriesLength + heapLength);
  const view = viewOf(bytes);
  let nameOffset = 0;
  records.forEach((record, i) => {
    const at = i * ENTRY_SIZE;
    view.setUint32(at + F.nameOffset, nameOffset, true);
    view.setUint16(at + F.nameLength, record.nameBytes.byteLength, true);
    view.setUint16(at + F.flags, record.flags, true);
    writeU64(view, at + F.dataOffset, record.dataOffset);
    writeU64(view, at + F.size, record.size);
    writeU64(view, at + F.metaOffset, record.metaOffset);
    view.setUint32(at + F.metaLength, record.metaLength, true);
    view.setUint32(at + F.crc32c, record.crc32c, true);
    bytes.set(record.sha256.subarray(0, SHA256_BYTES), at + F.sha256);
    bytes.set(record.nameBytes, entriesLength + nameOffset);
    nameOffset += record.nameBytes.byteLength;
  });
  return bytes;
}

/** A decoded-on-demand view of INDEX bytes. */
export class IndexView {
  /** Number of entries. */
  readonly count: number;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #heap: Uint8Array;
  readonly #bounds: IndexBounds;

  /** @param bytes INDEX bytes @param count entry count @param bounds where entries may point */
  constructor(bytes: Uint8Array, count: number, bounds: IndexBounds) {
    if (count * ENTRY_SIZE > bytes.byteLength) {
      throw new DesFormatError("index is shorter than its entries", {
        entryCount: count,
        indexLength: bytes.byteLength,
      });
    }
    this.count = count;
    this.#bytes = bytes;
    this.#view = viewOf(bytes);
    this.#heap = bytes.subarray(count * ENTRY_SIZE);
    this.#bounds = bounds;
  }

  /** The UTF-8 name of entry `i`, checked against the name heap. */
  nameBytesAt(i: number): Uint8Array {
    const offset = this.#nameOffset(i);
    return this.#heap.subarray(
      offset,
      offset + this.#view.getUint16(i * ENTRY_SIZE + F.nameLength, true),
    );
  }

  /** Entry `i`, decoded and checked against the container bounds. */
  entryAt(i: number): IndexEntry {
    const name = decodeName(this.nameBytesAt(i));
    const at = this.#entryStart(i);
    const v = this.#view;
    const flags = v.getUint16(at + F.flags, true);
    const entry: IndexEntry = {
      name,
      flags,
      external: (flags & FLAG_EXTERNAL) !== 0,
      dataOffset: readU64(v, at + F.dataOffset, "dataOffset"),
      size: readU64(v, at + F.size, "size"),
      metaOffset: readU64(v, at + F.metaOffset, "metaOffset"),
      metaLength: v.getUint32(at + F.metaLength, true),
      crc32c: v.getUint32(at + F.crc32c, true),
      sha256: this.#bytes.slice(at + F.sha256, at + F.sha256 + SHA256_BYTES),
    };
    checkEntry(entry, this.#bounds);
    return entry;
  }

  /** Position of the entry named `nameBytes` (binary search), or -1. */
  findIndex(nameBytes: Uint8Array): number {
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const order = this.#compareNameAt(mid, nameBytes);
      if (order === 0) return mid;
      if (order < 0) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  /** Byte-wise comparison of the name of entry `i` with `nameBytes`, without copying. */
  #compareNameAt(i: number, nameBytes: Uint8Array): number {
    const offset = this.#nameOffset(i);
    const length = this.#view.getUint16(i * ENTRY_SIZE + F.nameLength, true);
    const heap = this.#heap;
    const n = Math.min(length, nameBytes.byteLength);
    for (let k = 0; k < n; k++) {
      const d = heap[offset + k] - nameBytes[k];
      if (d !== 0) return d;
    }
    return length - nameBytes.byteLength;
  }

  /** Offset of the name of entry `i` in the heap, after checking the name lies inside it. */
  #nameOffset(i: number): number {
    const at = this.#entryStart(i);
    const offset = this.#view.getUint32(at + F.nameOffset, true);
    const length = this.#view.getUint16(at + F.nameLength, true);
    if (length < 1 || length > MAX_NAME_BYTES || offset + length > this.#heap.byteLength) {
      throw new DesFormatError("index entry name outside the name heap", {
        entry: i,
        nameOffset: offset,
        nameLength: length,
        heapLength: this.#heap.byteLength,
      });
    }
    return offset;
  }

  #entryStart(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new DesInputError(`no index entry ${i}`, { entry: i, entryCount: this.count });
    }
    return i * ENTRY_SIZE;
  }
}

/** Decode INDEX bytes into a lazy {@linkcode IndexView}. */
export function decodeIndex(bytes: Uint8Array, count: number, bounds: IndexBounds): IndexView {
  return new IndexView(bytes, count, bounds);
}

/** Check that an entry points inside DATA and the per-file part of META. */
export function checkEntry(entry: IndexEntry, bounds: IndexBounds): void {
  const fail = (why: string): never => {
    throw new DesFormatError(`index entry ${JSON.stringify(entry.name)}: ${why}`, {
      name: entry.name,
      dataOffset: entry.dataOffset,
      size: entry.size,
      metaOffset: entry.metaOffset,
      metaLength: entry.metaLength,
    });
  };
  if (!entry.external) {
    if (entry.dataOffset < bounds.dataStart || entry.dataOffset + entry.size > bounds.dataEnd) {
      fail("content outside DATA");
    }
  }
  if (entry.metaLength > MAX_META_RECORD_BYTES) fail("meta record too large");
  if (
    entry.metaOffset < bounds.metaRecordsStart ||
    entry.metaOffset + entry.metaLength > bounds.metaEnd
  ) {
    fail("meta record outside META");
  }
}
