/**
 * A retriever's row in `des_retrievers` as the read path sees it: the
 * retriever writes its record, the gateway builds its routing table from the
 * records whose heartbeat is recent.
 *
 * @module
 */

import type { ShardRange } from "../naming/shard_range.ts";
import type { DbQuery } from "./db.ts";

/** What a retriever registers. */
export interface RetrieverRecord {
  /** Retriever id. */
  id: string;
  /** Base URL the gateway reaches it at. */
  url: string;
  /** Shards it serves. */
  range: ShardRange;
}

/** Insert or refresh the row of `record`. */
export async function registerRetriever(db: DbQuery, record: RetrieverRecord): Promise<void> {
  await db.query(
    `insert into des_retrievers (id, url, range_start, range_end)
     values ($1, $2, $3, $4)
     on conflict (id) do update set url = excluded.url, range_start = excluded.range_start,
       range_end = excluded.range_end, started_at = now(), heartbeat_at = now()`,
    [record.id, record.url, record.range.start, record.range.end],
  );
}

/** Retrievers whose heartbeat is at most `maxAgeSeconds` old, by range start. */
export async function liveRetrievers(
  db: DbQuery,
  maxAgeSeconds: number,
): Promise<RetrieverRecord[]> {
  const rows = await db.query<{ id: string; url: string; rangeStart: number; rangeEnd: number }>(
    `select id, url, range_start as "rangeStart", range_end as "rangeEnd" from des_retrievers
     where heartbeat_at > now() - make_interval(secs => $1) order by range_start, id`,
    [maxAgeSeconds],
  );
  return rows.map((r) => ({
    id: r.id,
    url: r.url,
    range: { start: r.rangeStart, end: r.rangeEnd },
  }));
}
