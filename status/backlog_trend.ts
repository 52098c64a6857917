/**
 * The backlog's trend: each time the status is read, the backlog (marked
 * rows) of every source is recorded in `des_backlog_samples`, at most once a
 * minute per source; the trend compares today's backlog with the newest
 * sample at least one window old (default one hour). Samples older than a
 * week are deleted as new ones are written.
 *
 * @module
 */

import type { DbQuery } from "../db/db.ts";

/** The reference a backlog is compared with. */
export interface BacklogReference {
  /** Marked rows at the sample. */
  marked: number;
  /** When the sample was taken. */
  at: Date;
}

/** Record `marked` for `source` unless a sample younger than `minGapMs` exists. */
export async function recordBacklog(
  db: DbQuery,
  source: string,
  marked: number,
  minGapMs = 60_000,
): Promise<void> {
  await db.query(
    `insert into des_backlog_samples (source, marked)
     select $1, $2 where not exists (
       select 1 from des_backlog_samples
        where source = $1 and at > now() - $3::double precision * interval '1 millisecond')
     on conflict do nothing`,
    [source, marked, minGapMs],
  );
  await db.query(
    "delete from des_backlog_samples where source = $1 and at < now() - interval '7 days'",
    [source],
  );
}

/** The newest sample of `source` at least `windowMs` old, or null. */
export async function backlogReference(
  db: DbQuery,
  source: string,
  windowMs: number,
): Promise<BacklogReference | null> {
  const [row] = await db.query<{ marked: number; at: Date }>(
    `select marked, at from des_backlog_samples
      where source = $1 and at <= now() - $2::double precision * interval '1 millisecond'
      order by at desc limit 1`,
    [source, windowMs],
  );
  return row ? { marked: Number(row.marked), at: row.at } : null;
}
