/**
 * What the status view reads from one parent source: rows per lifecycle
 * stage, marked rows per shard (work left under a lease), and the latest
 * dead-lettered rows with their reasons. Read-only queries built from the
 * source's configured column names and status values.
 *
 * @module
 */

import type { DbQuery } from "../db/db.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { qualifiedTable } from "../parent/source_check.ts";
import type { SourceConfig } from "../parent/sources.ts";
import type { DeadLetter } from "./status_report.ts";

/** Rows of one source by stage. */
export interface SourceCounts {
  /** Rows in the eligible status. */
  eligible: number;
  /** Marked, waiting for the packer. */
  marked: number;
  /** Packed. */
  packed: number;
  /** Dead-lettered. */
  failed: number;
}

/** One parent source opened for reading its status. */
export interface StatusSource {
  /** The validated configuration. */
  config: SourceConfig;
  /** Its database. */
  db: DbQuery;
}

/** Rows per stage of `source`. */
export async function sourceCounts(source: StatusSource): Promise<SourceCounts> {
  const { config } = source;
  const status = quoteIdent(config.columns.status);
  const rows = await source.db.query<{ status: string; n: number }>(
    `SELECT ${status}::text AS status, count(*)::int AS n FROM ${qualifiedTable(config)}
      WHERE ${status}::text = ANY($1::text[]) GROUP BY 1`,
    [[
      config.statuses.eligible,
      config.statuses.marked,
      config.statuses.packed,
      config.statuses.failed,
    ]],
  );
  const counts: SourceCounts = { eligible: 0, marked: 0, packed: 0, failed: 0 };
  for (const role of ["eligible", "marked", "packed", "failed"] as const) {
    counts[role] = rows.find((r) => r.status === config.statuses[role])?.n ?? 0;
  }
  return counts;
}

/** Marked rows of `source` per shard (shards with none are absent). */
export async function markedPerShard(source: StatusSource): Promise<Map<number, number>> {
  const { config } = source;
  const rows = await source.db.query<{ shard: number; n: number }>(
    `SELECT ${quoteIdent(config.columns.des_shard)}::int AS shard, count(*)::int AS n
       FROM ${qualifiedTable(config)} WHERE ${quoteIdent(config.columns.status)}::text = $1
      GROUP BY 1`,
    [config.statuses.marked],
  );
  return new Map(rows.map((r) => [r.shard, r.n]));
}

/** Up to `limit` dead-lettered rows of `source` (highest ids first). */
export async function deadLetters(source: StatusSource, limit: number): Promise<DeadLetter[]> {
  const { config } = source;
  const c = config.columns;
  const reason = c.error ? `${quoteIdent(c.error)}::text` : "NULL::text";
  const rows = await source.db.query<{ id: string; location: string; reason: string | null }>(
    `SELECT ${quoteIdent(c.id)}::text AS id, ${quoteIdent(c.location)}::text AS location,
            ${reason} AS reason
       FROM ${qualifiedTable(config)} WHERE ${quoteIdent(c.status)}::text = $1
      ORDER BY ${quoteIdent(c.id)} DESC LIMIT $2`,
    [config.statuses.failed, limit],
  );
  return rows.map((r) => ({ source: config.name, ...r }));
}
