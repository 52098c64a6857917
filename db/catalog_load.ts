/**
 * The bulk read of a retriever's container catalog: every visible container
 * of a shard range, as few wide rows instead of one row of twelve columns
 * per container. PostgreSQL turns each shard's containers into ONE JSON
 * text (an array of arrays, ordered by first name), which the client
 * decodes with one `JSON.parse`: the per-column work of the driver (a
 * buffer and a UTF-8 decode for each value, 1.2 million of them for 100,000
 * containers) and most of the garbage it left are gone. JSON keeps every
 * value exact whatever characters a key or bucket holds.
 *
 * @module
 */

import { VISIBLE_STATES } from "./container_states.ts";
import type { DbQuery } from "./db.ts";

/** One visible container, as the read path's catalog needs it. */
export interface CatalogRow {
  /** Container id. */
  id: string;
  /** Shard of every name in it. */
  shard: number;
  /** Bucket (or store directory) of the object. */
  bucket: string;
  /** Object key. */
  key: string;
  /** Object size in bytes. */
  size: number;
  /** ETag recorded at verification, when known. */
  etag?: string;
  /** Smallest name. */
  firstName: string;
  /** Largest name. */
  lastName: string;
  /** Commit time, epoch ms (0 when unknown). */
  committedAt: number;
}

/** One container in the JSON text: a visible row has its size, names and commit time (checked by the table). */
type Packed = [string, string, string, number, string | null, string, string, number];

/**
 * The visible containers (committed and later states) of shards
 * `[rangeStart, rangeEnd]`, grouped by shard and, within a shard, ordered by
 * first name then commit time.
 */
export async function loadCatalogRows(
  db: DbQuery,
  rangeStart: number,
  rangeEnd: number,
): Promise<CatalogRow[]> {
  const shards = await db.query<{ shard: number; containers: string }>(
    `select shard, '[' || string_agg(json_build_array(container_id, bucket, key, size, etag,
         first_name, last_name, (extract(epoch from committed_at) * 1000)::bigint)::text, ','
         order by first_name, committed_at, container_id) || ']' as containers
       from des_containers
      where shard between $1 and $2 and state = any($3::text[])
      group by shard`,
    [rangeStart, rangeEnd, VISIBLE_STATES],
  );
  const out: CatalogRow[] = [];
  for (const { shard, containers } of shards) {
    for (const c of JSON.parse(containers) as Packed[]) {
      out.push({
        id: c[0],
        shard,
        bucket: c[1],
        key: c[2],
        size: Number(c[3]),
        etag: c[4] ?? undefined,
        firstName: c[5],
        lastName: c[6],
        committedAt: c[7],
      });
    }
  }
  return out;
}
