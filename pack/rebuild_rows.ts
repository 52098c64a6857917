/**
 * The catalog reads and writes of a catalog rebuild, one statement per batch
 * of objects: existing rows by object key, rows claiming container ids or
 * objects, and the insert of rebuilt rows in state `committed`, which raises
 * the commit NOTIFY so running retrievers pick the containers up.
 *
 * @module
 */

import type { Db, DbQuery } from "../db/db.ts";
import type { CatalogRowView, RebuiltContainer } from "./rebuild_entry.ts";

/** Owner written into rebuilt rows, so they can be told apart from packed ones. */
export const REBUILD_OWNER = "rebuild-catalog";

const VIEW_COLUMNS = `container_id as "containerId", bucket, key, shard, source, size, etag,
  file_count as "fileCount", first_name as "firstName", last_name as "lastName",
  index_crc32c as "indexCrc32c", footer_crc32c as "footerCrc32c", state`;

/** The rows recorded for `keys` of `bucket`, by key. */
export async function rowsAtKeys(
  db: DbQuery,
  bucket: string,
  keys: readonly string[],
): Promise<Map<string, CatalogRowView>> {
  if (keys.length === 0) return new Map();
  const rows = await db.query<CatalogRowView>(
    `select ${VIEW_COLUMNS} from des_containers where bucket = $1 and key = any($2::text[])`,
    [bucket, [...keys]],
  );
  return new Map(rows.map((r) => [r.key, r]));
}

/** Rows that claim one of the entries' container ids or objects. */
export function rowsClaiming(
  db: DbQuery,
  bucket: string,
  entries: readonly Pick<RebuiltContainer, "containerId" | "key">[],
): Promise<CatalogRowView[]> {
  if (entries.length === 0) return Promise.resolve([]);
  return db.query<CatalogRowView>(
    `select ${VIEW_COLUMNS} from des_containers
     where container_id = any($1::text[]) or (bucket = $2 and key = any($3::text[]))
     order by id`,
    [entries.map((e) => e.containerId), bucket, entries.map((e) => e.key)],
  );
}

/**
 * Insert `entries` as committed containers in one transaction, each created
 * and committed at its writer's creation time (so "newest container wins"
 * keeps its order), and add them to their shards' counters. An entry whose
 * id or object already has a row (a concurrent rebuild or packer, or a copy
 * earlier in the batch) is skipped. Returns the keys inserted, by container id.
 */
export function insertRebuilt(
  db: Db,
  entries: readonly RebuiltContainer[],
): Promise<Map<string, string>> {
  if (entries.length === 0) return Promise.resolve(new Map());
  const column = <T>(pick: (e: RebuiltContainer) => T): T[] => entries.map(pick);
  return db.transaction(async (tx) => {
    const inserted = await tx.query<{ containerId: string; key: string }>(
      `insert into des_containers (container_id, shard, source, bucket, key, size, file_count,
         data_bytes, first_name, last_name, index_crc32c, footer_crc32c, etag, state, owner,
         created_at, updated_at, committed_at)
       select u.container_id, u.shard, u.source, u.bucket, u.key, u.size, u.file_count,
         u.data_bytes, u.first_name, u.last_name, u.index_crc32c, u.footer_crc32c, u.etag,
         'committed', $14, u.created_at, now(), u.created_at
       from unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[],
         $7::int[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::bigint[],
         $13::text[], $15::timestamptz[])
         as u(container_id, shard, source, bucket, key, size, file_count, data_bytes, first_name,
           last_name, index_crc32c, footer_crc32c, etag, created_at)
       on conflict do nothing
       returning container_id as "containerId", key`,
      [
        column((e) => e.containerId),
        column((e) => e.shard),
        column((e) => e.source),
        column((e) => e.bucket),
        column((e) => e.key),
        column((e) => e.size),
        column((e) => e.fileCount),
        column((e) => e.dataBytes),
        column((e) => e.firstName),
        column((e) => e.lastName),
        column((e) => e.indexCrc32c),
        column((e) => e.footerCrc32c),
        column((e) => e.etag),
        REBUILD_OWNER,
        column((e) => e.createdAt.toISOString()),
      ],
    );
    const keys = new Map(inserted.map((r) => [r.containerId, r.key]));
    const added = entries.filter((e) => keys.get(e.containerId) === e.key);
    if (added.length > 0) {
      await tx.query(
        `update des_shards s set last_packed_at = now(),
           packed_containers = s.packed_containers + a.containers,
           packed_files = s.packed_files + a.files, packed_bytes = s.packed_bytes + a.bytes
         from (select shard, count(*) as containers, sum(files) as files, sum(bytes) as bytes
               from unnest($1::int[], $2::bigint[], $3::bigint[]) as u(shard, files, bytes)
               group by shard) as a
         where s.shard = a.shard`,
        [added.map((e) => e.shard), added.map((e) => e.fileCount), added.map((e) => e.dataBytes)],
      );
    }
    return keys;
  });
}
