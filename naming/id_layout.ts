/**
 * The bit layout of a DES id: a Snowflake-like 64-bit integer.
 *
 * ```
 *  63 | 62 ............ 22 | 21 ...... 12 | 11 ...... 0
 *   0 | timestamp (41 bits) | node (10)    | sequence (12)
 * ```
 *
 * The timestamp counts milliseconds since {@linkcode DES_EPOCH_MS}
 * (2024-01-01T00:00:00Z). Bit 63 is always zero, so an id fits a signed
 * 64-bit integer (Postgres `bigint`).
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";

/** The DES epoch, 2024-01-01T00:00:00Z, in Unix milliseconds. */
export const DES_EPOCH_MS: number = Date.UTC(2024, 0, 1);
/** Bits of the millisecond timestamp. */
export const TIMESTAMP_BITS = 41;
/** Bits of the node id. */
export const NODE_ID_BITS = 10;
/** Bits of the per-millisecond sequence. */
export const SEQUENCE_BITS = 12;
/** Largest timestamp offset (ms since the DES epoch): reached in September 2093. */
export const MAX_TIMESTAMP = 2 ** TIMESTAMP_BITS - 1;
/** Largest node id (1023). */
export const MAX_NODE_ID = 2 ** NODE_ID_BITS - 1;
/** Largest sequence number within one millisecond (4095). */
export const MAX_SEQUENCE = 2 ** SEQUENCE_BITS - 1;
/** Largest valid id: 2^63 - 1. */
export const MAX_ID = (1n << 63n) - 1n;

/** The three fields of an id. */
export interface IdParts {
  /** Milliseconds since {@linkcode DES_EPOCH_MS}, 0..2^41-1. */
  timestamp: number;
  /** The generating node, 0..1023. */
  nodeId: number;
  /** Sequence within the millisecond, 0..4095. */
  sequence: number;
}

function checkField(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new DesInputError(`${what} must be an integer in 0..${max}, got ${value}`, {
      field: what,
      value,
    });
  }
}

/** Pack timestamp, node id and sequence into an id. Throws `DesInputError` on an out-of-range field. */
export function composeId(parts: IdParts): bigint {
  checkField("timestamp", parts.timestamp, MAX_TIMESTAMP);
  checkField("nodeId", parts.nodeId, MAX_NODE_ID);
  checkField("sequence", parts.sequence, MAX_SEQUENCE);
  return (BigInt(parts.timestamp) << BigInt(NODE_ID_BITS + SEQUENCE_BITS)) |
    BigInt((parts.nodeId << SEQUENCE_BITS) | parts.sequence);
}

/** Split an id (0..2^63-1) into its fields. */
export function decomposeId(id: bigint): IdParts {
  if (id < 0n || id > MAX_ID) {
    throw new DesInputError(`id must be in 0..2^63-1, got ${id}`, { id: id.toString() });
  }
  const low = Number(id & 0x3fffffn);
  return {
    timestamp: Number(id >> 22n),
    nodeId: low >>> SEQUENCE_BITS,
    sequence: low & MAX_SEQUENCE,
  };
}
