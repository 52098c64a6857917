/**
 * Fixed-width, lowercase Crockford base32 for 63-bit ids: 13 characters from
 * `0123456789abcdefghjkmnpqrstvwxyz` (no i, l, o, u). The alphabet is in
 * ASCII order, so the text of two ids sorts like the ids. The first character
 * carries the top 3 bits and is always `0`..`7`.
 *
 * @module
 */

/** The 32 digits, in value order. */
export const BASE32_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
/** Characters in an encoded id. */
export const ID_TEXT_LENGTH = 13;

const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE32_ALPHABET.length; i++) DIGIT_VALUE[BASE32_ALPHABET.charCodeAt(i)] = i;

/** Encode an id (0..2^63-1) as 13 base32 characters. */
export function encodeId(id: bigint): string {
  // Split into 33 high and 30 low bits so the loop runs on plain numbers.
  let high = Number(id >> 30n);
  let low = Number(id & 0x3fffffffn);
  const out = new Array<string>(ID_TEXT_LENGTH);
  for (let i = ID_TEXT_LENGTH - 1; i >= ID_TEXT_LENGTH - 6; i--) {
    out[i] = BASE32_ALPHABET[low & 31];
    low >>>= 5;
  }
  for (let i = ID_TEXT_LENGTH - 7; i >= 0; i--) {
    out[i] = BASE32_ALPHABET[high % 32];
    high = Math.floor(high / 32);
  }
  return out.join("");
}

/** The value (0..31) of one base32 character, or -1 when it is not a digit. */
export function base32DigitValue(charCode: number): number {
  return charCode < 128 ? DIGIT_VALUE[charCode] : -1;
}

/**
 * Decode 13 base32 characters already checked with {@linkcode base32DigitValue}.
 * Returns the id, which may exceed 2^63-1 when the first digit is above 7.
 */
export function decodeIdDigits(text: string): bigint {
  let high = 0;
  for (let i = 0; i < ID_TEXT_LENGTH - 6; i++) high = high * 32 + DIGIT_VALUE[text.charCodeAt(i)];
  let low = 0;
  for (let i = ID_TEXT_LENGTH - 6; i < ID_TEXT_LENGTH; i++) {
    low = low * 32 + DIGIT_VALUE[text.charCodeAt(i)];
  }
  return (BigInt(high) << 30n) | BigInt(low);
}
