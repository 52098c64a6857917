/**
 * Inclusive shard ranges (`0-127`) as retrievers own them and the gateway
 * routes by them.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";

/** Shards `start..end`, both inclusive. */
export interface ShardRange {
  /** First shard. */
  start: number;
  /** Last shard, inclusive. */
  end: number;
}

/**
 * Parse `A-B` (or a single shard `A`) and check it against `shardCount`
 * shards when given. Throws `DesConfigError` naming the value otherwise.
 *
 * @example
 * ```ts
 * parseShardRange("0-127", 256); // { start: 0, end: 127 }
 * ```
 */
export function parseShardRange(text: string, shardCount?: number): ShardRange {
  const m = /^\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?$/.exec(text);
  if (!m) {
    throw new DesConfigError(`bad shard range ${JSON.stringify(text)}: expected A-B, e.g. 0-127`, {
      range: text,
    });
  }
  const range = { start: Number(m[1]), end: Number(m[2] ?? m[1]) };
  if (range.end < range.start) {
    throw new DesConfigError(`bad shard range ${JSON.stringify(text)}: end is before start`, {
      range: text,
    });
  }
  if (shardCount !== undefined && range.end >= shardCount) {
    throw new DesConfigError(
      `shard range ${JSON.stringify(text)} goes past the last shard ${shardCount - 1}`,
      { range: text, shardCount },
    );
  }
  return range;
}

/** `A-B` text of a range. */
export function formatShardRange(range: ShardRange): string {
  return `${range.start}-${range.end}`;
}

/** Whether `shard` lies in `range`. */
export function inShardRange(range: ShardRange, shard: number): boolean {
  return shard >= range.start && shard <= range.end;
}
