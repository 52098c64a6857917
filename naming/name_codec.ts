/**
 * The text form of a DES name and its strict parser.
 *
 * Shape: `[<prefix>-]<shard>-<id>`, where `<shard>` is the shard in lowercase
 * hex, zero-padded to `ceil(shardBits / 4)` digits, and `<id>` is the 63-bit id
 * in 13 lowercase Crockford base32 digits. The shard part must equal the shard
 * computed from the id, so a name can be checked and routed without a lookup.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import { base32DigitValue, decodeIdDigits, encodeId, ID_TEXT_LENGTH } from "./base32.ts";
import { decomposeId, DES_EPOCH_MS } from "./id_layout.ts";
import { type NameFormat, validateNameFormat } from "./naming_config.ts";
import { shardOfId } from "./shard_hash.ts";

/** A string that is a well-formed DES name (produced by a generator or a successful parse). */
export type DesName = string & { readonly __desName: true };

/** Everything a name says about itself. */
export interface ParsedName {
  /** The 63-bit id. */
  id: bigint;
  /** When the id was generated (logical time, see docs/naming.md). */
  timestamp: Date;
  /** The generating node, 0..1023. */
  nodeId: number;
  /** Sequence within the millisecond, 0..4095. */
  sequence: number;
  /** The shard, 0..2^shardBits-1. */
  shard: number;
}

/** Why a name was rejected; carried as `context.reason` of the `DesInputError`. */
export type NameRejection =
  | "not-a-string"
  | "too-long"
  | "bad-prefix"
  | "bad-length"
  | "bad-separator"
  | "uppercase"
  | "bad-shard-digit"
  | "shard-out-of-range"
  | "bad-id-digit"
  | "id-overflow"
  | "shard-mismatch";

/** Longest text the parser looks at; anything longer is rejected unread. */
const MAX_NAME_TEXT = 64;

/** Hex digits of the shard part for `shardBits`. */
export function shardHexWidth(shardBits: number): number {
  return Math.ceil(shardBits / 4);
}

/** The exact length of a name under `format`. */
export function nameLength(format: NameFormat): number {
  const prefixLength = format.prefix === "" ? 0 : format.prefix.length + 1;
  return prefixLength + shardHexWidth(format.shardBits) + 1 + ID_TEXT_LENGTH;
}

/**
 * The strict regular expression of names under `format`. It checks the shape
 * and the shard range; only {@linkcode parseName} also checks that the shard
 * part agrees with the id.
 */
export function nameRegex(format: NameFormat): RegExp {
  validateNameFormat(format);
  const width = shardHexWidth(format.shardBits);
  const topBits = format.shardBits - 4 * (width - 1);
  const topDigit = ["[01]", "[0-3]", "[0-7]", "[0-9a-f]"][topBits - 1];
  const rest = width === 1 ? "" : width === 2 ? "[0-9a-f]" : `[0-9a-f]{${width - 1}}`;
  const prefix = format.prefix === "" ? "" : `${format.prefix}-`;
  return new RegExp(`^${prefix}${topDigit}${rest}-[0-7][0-9a-hjkmnp-tv-z]{12}$`);
}

/** Format an id as a name. The shard part is computed from the id. */
export function formatName(id: bigint, format: NameFormat): DesName {
  const shard = shardOfId(id, format.shardBits);
  const shardHex = shard.toString(16).padStart(shardHexWidth(format.shardBits), "0");
  const prefix = format.prefix === "" ? "" : `${format.prefix}-`;
  return `${prefix}${shardHex}-${encodeId(id)}` as DesName;
}

function reject(reason: NameRejection, message: string, name: unknown, extra = {}): never {
  const shown = typeof name === "string" && name.length > MAX_NAME_TEXT
    ? `${name.slice(0, MAX_NAME_TEXT)}…`
    : name;
  throw new DesInputError(`invalid DES name: ${message}`, { reason, name: shown, ...extra });
}

function isUpperAlpha(code: number): boolean {
  return code >= 65 && code <= 90;
}

function parseShardPart(name: string, start: number, width: number, shardBits: number): number {
  let shard = 0;
  for (let i = start; i < start + width; i++) {
    const code = name.charCodeAt(i);
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;
    if (digit < 0) {
      if (isUpperAlpha(code)) reject("uppercase", `names are lowercase (position ${i})`, name);
      reject("bad-shard-digit", `shard part has a non-hex character at position ${i}`, name, {
        position: i,
      });
    }
    shard = shard * 16 + digit;
  }
  if (shard >= 2 ** shardBits) {
    reject("shard-out-of-range", `shard ${shard} does not fit in ${shardBits} shard bits`, name, {
      shard,
    });
  }
  return shard;
}

function parseIdPart(name: string, start: number): bigint {
  for (let i = start; i < start + ID_TEXT_LENGTH; i++) {
    const code = name.charCodeAt(i);
    if (base32DigitValue(code) >= 0) continue;
    if (isUpperAlpha(code)) reject("uppercase", `names are lowercase (position ${i})`, name);
    reject(
      "bad-id-digit",
      `id part has a character that is not a base32 digit at position ${i} (digits are 0-9 and a-z without i, l, o, u)`,
      name,
      { position: i },
    );
  }
  if (base32DigitValue(name.charCodeAt(start)) > 7) {
    reject("id-overflow", "id part exceeds 63 bits (its first digit must be 0-7)", name);
  }
  return decodeIdDigits(name.slice(start, start + ID_TEXT_LENGTH));
}

/**
 * Parse and fully check a name. Throws `DesInputError` whose
 * `context.reason` is a {@linkcode NameRejection} for any malformed name.
 */
export function parseName(name: string, format: NameFormat): ParsedName {
  validateNameFormat(format);
  if (typeof name !== "string") reject("not-a-string", `expected a string, got ${typeof name}`, "");
  if (name.length > MAX_NAME_TEXT) {
    reject("too-long", `longer than ${MAX_NAME_TEXT} characters`, name);
  }
  let pos = 0;
  if (format.prefix !== "") {
    if (!name.startsWith(`${format.prefix}-`)) {
      reject("bad-prefix", `expected the prefix "${format.prefix}-"`, name);
    }
    pos = format.prefix.length + 1;
  }
  const expected = nameLength(format);
  if (name.length !== expected) {
    reject("bad-length", `expected ${expected} characters, got ${name.length}`, name, {
      expected,
      actual: name.length,
    });
  }
  const width = shardHexWidth(format.shardBits);
  if (name.charCodeAt(pos + width) !== 45) {
    reject("bad-separator", `expected "-" at position ${pos + width}`, name, {
      position: pos + width,
    });
  }
  const shard = parseShardPart(name, pos, width, format.shardBits);
  const id = parseIdPart(name, pos + width + 1);
  const actualShard = shardOfId(id, format.shardBits);
  if (actualShard !== shard) {
    reject(
      "shard-mismatch",
      `shard part ${shard} does not match the id (shard ${actualShard})`,
      name,
      {
        shard,
        expectedShard: actualShard,
      },
    );
  }
  const parts = decomposeId(id);
  return {
    id,
    timestamp: new Date(DES_EPOCH_MS + parts.timestamp),
    nodeId: parts.nodeId,
    sequence: parts.sequence,
    shard,
  };
}

/** The shard of a name, computed from the name alone. Throws like {@linkcode parseName}. */
export function shardOf(name: string, format: NameFormat): number {
  return parseName(name, format).shard;
}

/** Whether `name` is a well-formed name under `format` (never throws on bad names). */
export function isValidName(name: unknown, format: NameFormat): name is DesName {
  try {
    parseName(name as string, format);
    return true;
  } catch (err) {
    if (err instanceof DesInputError) return false;
    throw err;
  }
}
