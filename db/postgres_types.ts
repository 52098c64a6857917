/**
 * How values cross between JS and PostgreSQL through postgres.js, made to
 * match the embedded engine: `int8` → number when safe (else bigint),
 * `bytea` → plain `Uint8Array`, and arrays sent and parsed as literals,
 * because postgres.js types an array parameter by its first element and reads
 * an unquoted `NULL` element as the string "NULL".
 *
 * @module
 */

import type postgres from "postgres";
import { parseArrayLiteral, toArrayLiteral } from "./pg_array.ts";

/** `int8` → number when safe, else bigint; the same rule PGlite applies. */
function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** `bytea` hex text → a plain `Uint8Array` (not a node Buffer), as PGlite returns. */
function parseBytea(text: string): Uint8Array {
  const hex = text.startsWith("\\x") ? text.slice(2) : text;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function serializeBytea(bytes: Uint8Array): string {
  let hex = "\\x";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

function elementText(x: unknown): string {
  if (x instanceof Date) return x.toISOString();
  if (x instanceof Uint8Array) return serializeBytea(x);
  if (typeof x === "object") return JSON.stringify(x);
  return String(x);
}

/** Array parameters go as literals; the server casts them (`$1::text[]`). */
export function normalizeParams(params: readonly unknown[]): unknown[] {
  return params.map((p) => (Array.isArray(p) ? toArrayLiteral(p, elementText) : p));
}

const asString = (s: string) => s;
const ARRAY_ELEMENT_PARSERS: Record<string, [number, (s: string) => unknown]> = {
  bool_array: [1000, (s) => s === "t"],
  bytea_array: [1001, parseBytea],
  int2_array: [1005, Number],
  int4_array: [1007, Number],
  text_array: [1009, asString],
  varchar_array: [1015, asString],
  int8_array: [1016, parseInt8],
  float4_array: [1021, Number],
  float8_array: [1022, Number],
  timestamp_array: [1115, (s) => new Date(s)],
  date_array: [1182, asString],
  timestamptz_array: [1185, (s) => new Date(s)],
  numeric_array: [1231, asString],
  uuid_array: [2951, asString],
  json_array: [199, JSON.parse],
  jsonb_array: [3807, JSON.parse],
};

/**
 * postgres.js custom types: `int8` and `bytea` as PGlite returns them, and
 * the common array types with correct `NULL` elements.
 */
export function postgresTypes(): Record<string, postgres.PostgresType> {
  const types: Record<string, postgres.PostgresType> = {};
  for (const [name, [oid, parseElement]] of Object.entries(ARRAY_ELEMENT_PARSERS)) {
    types[name] = {
      to: oid,
      from: [oid],
      serialize: (x: unknown) => Array.isArray(x) ? toArrayLiteral(x, elementText) : String(x),
      parse: (text: string) => parseArrayLiteral(text, parseElement),
    };
  }
  types.int8 = { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: parseInt8 };
  types.bytea = {
    to: 17,
    from: [17],
    serialize: (x: Uint8Array | string) => typeof x === "string" ? x : serializeBytea(x),
    parse: parseBytea,
  };
  return types;
}
