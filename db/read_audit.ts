/**
 * The read audit trail: the gateway buffers one entry per served read and
 * writes them in batches with a single `unnest` insert per batch.
 *
 * @module
 */

import type { DbQuery } from "./db.ts";

/** One served read. */
export interface ReadAuditEntry {
  /** When it was served. */
  at: Date;
  /** The DES name asked for. */
  name: string;
  /** HTTP status returned. */
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Client identity (user, key id or address), if known. */
  client?: string | null;
  /** Trace id, if known. */
  traceId?: string | null;
}

/** Rows per insert statement. */
export const AUDIT_BATCH_ROWS = 10_000;

/** Insert entries in batches of {@linkcode AUDIT_BATCH_ROWS}. Returns the number inserted. */
export async function insertReadAudit(
  db: DbQuery,
  entries: readonly ReadAuditEntry[],
): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < entries.length; i += AUDIT_BATCH_ROWS) {
    const batch = entries.slice(i, i + AUDIT_BATCH_ROWS);
    const rows = await db.query<{ n: number }>(
      `with ins as (
         insert into des_read_audit (at, name, status, bytes, client, trace_id)
         select * from unnest($1::timestamptz[], $2::text[], $3::smallint[], $4::bigint[],
                              $5::text[], $6::text[])
         returning 1
       ) select count(*) as n from ins`,
      [
        batch.map((e) => e.at),
        batch.map((e) => e.name),
        batch.map((e) => e.status),
        batch.map((e) => e.bytes),
        batch.map((e) => e.client ?? null),
        batch.map((e) => e.traceId ?? null),
      ],
    );
    inserted += rows[0].n;
  }
  return inserted;
}

/** Delete audit rows older than `before`. Returns how many were deleted. */
export async function pruneReadAudit(db: DbQuery, before: Date): Promise<number> {
  const [{ n }] = await db.query<{ n: number }>(
    "with d as (delete from des_read_audit where at < $1 returning 1) select count(*) as n from d",
    [before],
  );
  return n;
}
