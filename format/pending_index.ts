/**
 * {@linkcode PendingIndex}: the INDEX of a container being written, kept as
 * packed bytes. Every added file is one 72-byte entry in the final layout
 * (its name offset pointing into a name log, its meta offset relative to the
 * first meta record) plus its UTF-8 name, so 100,000 files cost about
 * 72 + name-length bytes each and no JavaScript object or string. Names are
 * also kept in an open-addressing hash table of entry positions (4 bytes a
 * slot, at most half full), so a duplicate is found without a set of
 * strings. `encode` sorts the entries by name bytes and writes INDEX exactly
 * as `encodeIndex` would.
 *
 * @module
 */

import { readU64, writeU64 } from "./binary.ts";
import { ByteLog } from "./byte_log.ts";
import { ENTRY_FIELDS as F, ENTRY_SIZE, SHA256_BYTES } from "./constants.ts";

/** The fields of one entry as the writer knows them while adding. */
export interface PendingEntry {
  /** UTF-8 name. */
  nameBytes: Uint8Array;
  /** Flags. */
  flags: number;
  /** Absolute content offset (0 for external files). */
  dataOffset: number;
  /** Content size. */
  size: number;
  /** Offset of the meta record relative to the first record (after the descriptor). */
  metaRelative: number;
  /** Meta record length. */
  metaLength: number;
  /** CRC-32C of the content. */
  crc32c: number;
  /** SHA-256 of the content. */
  sha256: Uint8Array;
}

const decoder = new TextDecoder();

/** Packed INDEX entries in insertion order. */
export class PendingIndex {
  readonly #entries = new ByteLog(ENTRY_SIZE * 1024);
  readonly #names = new ByteLog(32 * 1024);
  /** Entry position + 1 by name hash (0 = free); grown to stay at most half full. */
  #slots = new Int32Array(1024);
  #count = 0;

  /** Entries added. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of all names. */
  get nameBytes(): number {
    return this.#names.length;
  }

  /** Whether an entry with exactly these name bytes was pushed. */
  has(nameBytes: Uint8Array): boolean {
    return this.#slots[this.#slotOf(nameBytes)] !== 0;
  }

  /** Append one entry; its name must not be present yet (see {@linkcode has}). */
  push(entry: PendingEntry): void {
    if ((this.#count + 1) * 2 > this.#slots.length) this.#growSlots();
    this.#slots[this.#slotOf(entry.nameBytes)] = this.#count + 1;
    const nameOffset = this.#names.append(entry.nameBytes);
    const at = this.#entries.reserve(ENTRY_SIZE);
    const view = this.#entries.view;
    view.setUint32(at + F.nameOffset, nameOffset, true);
    view.setUint16(at + F.nameLength, entry.nameBytes.byteLength, true);
    view.setUint16(at + F.flags, entry.flags, true);
    writeU64(view, at + F.dataOffset, entry.dataOffset);
    writeU64(view, at + F.size, entry.size);
    writeU64(view, at + F.metaOffset, entry.metaRelative);
    view.setUint32(at + F.metaLength, entry.metaLength, true);
    view.setUint32(at + F.crc32c, entry.crc32c, true);
    this.#entries.bytes.set(entry.sha256.subarray(0, SHA256_BYTES), at + F.sha256);
    this.#count++;
  }

  /** The slot holding `nameBytes`, or the free slot where it would go. */
  #slotOf(nameBytes: Uint8Array): number {
    const mask = this.#slots.length - 1;
    const view = this.#entries.view;
    const names = this.#names.bytes;
    const length = nameBytes.byteLength;
    for (let slot = hashName(nameBytes) & mask;; slot = (slot + 1) & mask) {
      const held = this.#slots[slot];
      if (held === 0) return slot;
      const at = (held - 1) * ENTRY_SIZE;
      if (view.getUint16(at + F.nameLength, true) !== length) continue;
      const offset = view.getUint32(at + F.nameOffset, true);
      let k = 0;
      while (k < length && names[offset + k] === nameBytes[k]) k++;
      if (k === length) return slot;
    }
  }

  #growSlots(): void {
    const old = this.#slots;
    this.#slots = new Int32Array(old.length * 2);
    const mask = this.#slots.length - 1;
    const view = this.#entries.view;
    const names = this.#names.bytes;
    for (const held of old) {
      if (held === 0) continue;
      const at = (held - 1) * ENTRY_SIZE;
      const offset = view.getUint32(at + F.nameOffset, true);
      const length = view.getUint16(at + F.nameLength, true);
      let slot = hashName(names.subarray(offset, offset + length)) & mask;
      while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
      this.#slots[slot] = held;
    }
  }

  /** Positions of the entries sorted by name bytes (names are unique). */
  sortedOrder(): Uint32Array {
    const view = this.#entries.view;
    const names = this.#names.bytes;
    const offsets = new Uint32Array(this.#count);
    const lengths = new Uint16Array(this.#count);
    for (let i = 0; i < this.#count; i++) {
      offsets[i] = view.getUint32(i * ENTRY_SIZE + F.nameOffset, true);
      lengths[i] = view.getUint16(i * ENTRY_SIZE + F.nameLength, true);
    }
    const order = new Uint32Array(this.#count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => {
      const ao = offsets[a], bo = offsets[b], al = lengths[a], bl = lengths[b];
      const n = al < bl ? al : bl;
      for (let k = 0; k < n; k++) {
        const d = names[ao + k] - names[bo + k];
        if (d !== 0) return d;
      }
      return al - bl;
    });
    return order;
  }

  /** The name of entry `position`. */
  nameAt(position: number): string {
    const view = this.#entries.view;
    const offset = view.getUint32(position * ENTRY_SIZE + F.nameOffset, true);
    const length = view.getUint16(position * ENTRY_SIZE + F.nameLength, true);
    return decoder.decode(this.#names.bytes.subarray(offset, offset + length));
  }

  /** Absolute meta offset of entry `position` once META starts its records at `recordsStart`. */
  metaOffsetAt(position: number, recordsStart: number): number {
    return recordsStart +
      readU64(this.#entries.view, position * ENTRY_SIZE + F.metaOffset, "metaOffset");
  }

  /** INDEX bytes: entries in `order`, meta offsets made absolute, then the name heap. */
  encode(order: Uint32Array, recordsStart: number): Uint8Array {
    const out = new Uint8Array(this.#count * ENTRY_SIZE + this.#names.length);
    let at = 0;
    for (const piece of this.encodePieces(order, recordsStart)) {
      out.set(piece, at);
      at += piece.byteLength;
    }
    return out;
  }

  /** Length of the encoded INDEX in bytes. */
  get encodedLength(): number {
    return this.#count * ENTRY_SIZE + this.#names.length;
  }

  /**
   * The bytes of {@linkcode encode} in pieces of about `pieceBytes`, so the
   * INDEX of a large container is never held whole a second time.
   */
  *encodePieces(
    order: Uint32Array,
    recordsStart: number,
    pieceBytes = 1024 * 1024,
  ): Generator<Uint8Array> {
    const src = this.#entries.bytes;
    const view = this.#entries.view;
    const names = this.#names.bytes;
    const perPiece = Math.max(1, Math.floor(pieceBytes / ENTRY_SIZE));
    let heap = 0;
    for (let first = 0; first < order.length; first += perPiece) {
      const count = Math.min(perPiece, order.length - first);
      const out = new Uint8Array(count * ENTRY_SIZE);
      const outView = new DataView(out.buffer);
      for (let k = 0; k < count; k++) {
        const from = order[first + k] * ENTRY_SIZE;
        const at = k * ENTRY_SIZE;
        out.set(src.subarray(from, from + ENTRY_SIZE), at);
        outView.setUint32(at + F.nameOffset, heap, true);
        writeU64(
          outView,
          at + F.metaOffset,
          recordsStart + readU64(view, from + F.metaOffset, "metaOffset"),
        );
        heap += view.getUint16(from + F.nameLength, true);
      }
      yield out;
    }
    let piece = new Uint8Array(Math.min(pieceBytes, heap));
    let filled = 0;
    for (let i = 0; i < order.length; i++) {
      const from = order[i] * ENTRY_SIZE;
      const nameOffset = view.getUint32(from + F.nameOffset, true);
      const nameLength = view.getUint16(from + F.nameLength, true);
      if (filled + nameLength > piece.byteLength) {
        yield piece.subarray(0, filled);
        piece = new Uint8Array(Math.max(pieceBytes, nameLength));
        filled = 0;
      }
      piece.set(names.subarray(nameOffset, nameOffset + nameLength), filled);
      filled += nameLength;
    }
    if (filled > 0) yield piece.subarray(0, filled);
  }
}

/** FNV-1a of the name bytes. */
function hashName(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.byteLength; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
