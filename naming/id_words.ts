/**
 * A DES id as two unsigned 32-bit words (`hi`, `lo`), and the two things a
 * name needs from it — its shard (the top bits of the SplitMix64 finalizer)
 * and its 13 base32 digits — computed on plain numbers. They give exactly
 * what `shardOfId` and `encodeId` give for the same id, several times
 * faster than `bigint` arithmetic, which matters when the marker names
 * thousands of rows per batch.
 *
 * @module
 */

import { BASE32_ALPHABET } from "./base32.ts";
import { NODE_ID_BITS, SEQUENCE_BITS } from "./id_layout.ts";

const LOW_FIELD_BITS = NODE_ID_BITS + SEQUENCE_BITS; // 22
const TIMESTAMP_LOW_BITS = 32 - LOW_FIELD_BITS; // 10

/** A 64-bit value as its high and low 32-bit words (both unsigned). */
export interface IdWords {
  /** Bits 63..32. */
  hi: number;
  /** Bits 31..0. */
  lo: number;
}

/** The words of the id made of `timestamp`, `nodeId` and `sequence` (fields already checked). */
export function idWords(timestamp: number, nodeId: number, sequence: number): IdWords {
  const lowTimestamp = timestamp % 2 ** TIMESTAMP_LOW_BITS;
  return {
    hi: Math.floor(timestamp / 2 ** TIMESTAMP_LOW_BITS) >>> 0,
    lo: ((lowTimestamp << LOW_FIELD_BITS) | (nodeId << SEQUENCE_BITS) | sequence) >>> 0,
  };
}

/** High 32 bits of the 64-bit product of two unsigned 32-bit numbers. */
function mulHigh(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p01 = a0 * b1, p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

// The SplitMix64 multipliers (see `shard_hash.ts`), as words.
const M1_HI = 0xbf58476d, M1_LO = 0x1ce4e5b9;
const M2_HI = 0x94d049bb, M2_LO = 0x133111eb;

/** The shard of the id `{hi, lo}`: the top `shardBits` (1..16) bits of `mix64(id)`. */
export function shardOfWords(hi: number, lo: number, shardBits: number): number {
  // z ^= z >> 30
  lo = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
  hi = (hi ^ (hi >>> 30)) >>> 0;
  // z *= M1 (mod 2^64)
  let h = (mulHigh(lo, M1_LO) + Math.imul(hi, M1_LO) + Math.imul(lo, M1_HI)) >>> 0;
  lo = Math.imul(lo, M1_LO) >>> 0;
  hi = h;
  // z ^= z >> 27
  lo = (lo ^ ((lo >>> 27) | (hi << 5))) >>> 0;
  hi = (hi ^ (hi >>> 27)) >>> 0;
  // z *= M2 (mod 2^64)
  h = (mulHigh(lo, M2_LO) + Math.imul(hi, M2_LO) + Math.imul(lo, M2_HI)) >>> 0;
  lo = Math.imul(lo, M2_LO) >>> 0;
  hi = h;
  // z ^= z >> 31; only the top bits are kept, and they come from `hi` alone.
  hi = (hi ^ (hi >>> 31)) >>> 0;
  return hi >>> (32 - shardBits);
}

/** Every 10-bit value as its two base32 digits. */
const DIGIT_PAIRS: readonly string[] = Array.from(
  { length: 1024 },
  (_, v) => BASE32_ALPHABET[v >>> 5] + BASE32_ALPHABET[v & 31],
);

/** The 13 base32 digits of the id `{hi, lo}` (below 2^63), as `encodeId` writes them. */
export function encodeWords(hi: number, lo: number): string {
  // 63 bits = one digit of 3 bits, then six pairs of digits of 10 bits each.
  const high = hi * 4 + (lo >>> 30); // bits 62..30
  const top = Math.floor(high / 2 ** 30);
  const mid = high % 2 ** 30;
  return BASE32_ALPHABET[top] + DIGIT_PAIRS[mid >>> 20] + DIGIT_PAIRS[(mid >>> 10) & 1023] +
    DIGIT_PAIRS[mid & 1023] + DIGIT_PAIRS[(lo >>> 20) & 1023] + DIGIT_PAIRS[(lo >>> 10) & 1023] +
    DIGIT_PAIRS[lo & 1023];
}
