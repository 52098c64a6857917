/**
 * Retriever registrations: each running retriever records its URL and shard
 * range and refreshes a heartbeat; the gateway routes to live ones.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import type { DbQuery } from "./db.ts";

/** One row of `des_retrievers`. */
export interface RetrieverRow {
  /** Stable retriever id. */
  id: string;
  /** Base URL the gateway forwards to. */
  url: string;
  /** First shard served, inclusive. */
  rangeStart: number;
  /** Last shard served, inclusive. */
  rangeEnd: number;
  /** When it registered. */
  startedAt: Date;
  /** Last heartbeat. */
  heartbeatAt: Date;
}

const COLUMNS = `id, url, range_start as "rangeStart", range_end as "rangeEnd",
  started_at as "startedAt", heartbeat_at as "heartbeatAt"`;

/** Register (or re-register) a retriever and set its heartbeat to now. */
export async function registerRetriever(
  db: DbQuery,
  r: { id: string; url: string; rangeStart: number; rangeEnd: number },
): Promise<RetrieverRow> {
  if (
    !Number.isInteger(r.rangeStart) || !Number.isInteger(r.rangeEnd) || r.rangeStart < 0 ||
    r.rangeStart > r.rangeEnd
  ) {
    throw new DesInputError(`retriever range ${r.rangeStart}-${r.rangeEnd} is invalid`, {
      id: r.id,
    });
  }
  const [row] = await db.query<RetrieverRow>(
    `insert into des_retrievers (id, url, range_start, range_end) values ($1, $2, $3, $4)
     on conflict (id) do update set url = excluded.url, range_start = excluded.range_start,
       range_end = excluded.range_end, started_at = now(), heartbeat_at = now()
     returning ${COLUMNS}`,
    [r.id, r.url, r.rangeStart, r.rangeEnd],
  );
  return row;
}

/** Refresh a heartbeat. Returns false when the retriever is not registered. */
export async function heartbeatRetriever(db: DbQuery, id: string): Promise<boolean> {
  const rows = await db.query(
    "update des_retrievers set heartbeat_at = now() where id = $1 returning id",
    [id],
  );
  return rows.length === 1;
}

/** Remove a registration (on shutdown). */
export async function unregisterRetriever(db: DbQuery, id: string): Promise<void> {
  await db.query("delete from des_retrievers where id = $1", [id]);
}

/** Retrievers with a heartbeat within `maxAgeMs` (default: all), by range start. */
export function listRetrievers(db: DbQuery, maxAgeMs?: number): Promise<RetrieverRow[]> {
  return db.query<RetrieverRow>(
    `select ${COLUMNS} from des_retrievers
     where $1::double precision is null
        or heartbeat_at > now() - $1::double precision * interval '1 millisecond'
     order by range_start, id`,
    [maxAgeMs ?? null],
  );
}
