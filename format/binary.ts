/**
 * Little-endian integer access and small byte utilities shared by the
 * structure codecs. 64-bit fields are exposed as JavaScript numbers and
 * rejected when they exceed `Number.MAX_SAFE_INTEGER`.
 *
 * @module
 */

import { DesFormatError, DesInputError } from "../core/errors.ts";

/** A little-endian DataView over exactly the bytes of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Read a u64 at `offset`; a value above 2^53-1 is a `DesFormatError` naming `field`. */
export function readU64(view: DataView, offset: number, field: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DesFormatError(`${field} is too large: ${value}`, { field, value: value.toString() });
  }
  return Number(value);
}

/** Write a non-negative safe integer as a u64 at `offset`. */
export function writeU64(view: DataView, offset: number, value: number): void {
  view.setBigUint64(offset, BigInt(value), true);
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** Bytes of an even-length hex string; `DesInputError` naming `what` if it is not hex. */
export function fromHex(hex: string, what: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) {
    throw new DesInputError(`${what} is not lower-case hex`, { [what]: hex });
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** An unsigned 32-bit value as 8 hex digits (how checksums appear in errors and reports). */
export function u32Hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Byte-wise comparison (the order of UTF-8 names in the INDEX), for sorting. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.byteLength - b.byteLength;
}

/** Concatenate byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
