/**
 * The catalog writes of a compaction switch. The replacement's commit, the
 * retirement of the containers it replaces and the move of their
 * tombstones happen in ONE transaction (the caller's), so no reader, packer
 * or recovery ever sees both or neither as the holder of a live name: a
 * committed compaction container whose old containers are still visible
 * cannot exist.
 *
 * @module
 */

import { DesConflictError } from "../core/errors.ts";
import type { ContainerState } from "../db/container_states.ts";
import type { Db, DbQuery, DbTx } from "../db/db.ts";
import { LeaseLostError, type ShardLease } from "./shard_lease.ts";

/** States a container may be retired from: settled, its parent rows packed. */
export const SETTLED_STATES: readonly ContainerState[] = ["parent_updated", "sources_released"];

/**
 * Run `fn` in one transaction that first locks the lease's shard row and
 * checks that the lease still names its owner (`LeaseLostError` otherwise,
 * nothing written): the writes of a switch or a deletion that must land
 * together, fenced like every other catalog write of the shard.
 */
export function fencedTransaction<T>(
  db: Db,
  lease: Pick<ShardLease, "shard" | "owner">,
  fn: (tx: DbTx) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const held = await tx.query(
      "select 1 from des_shards where shard = $1 and lease_owner = $2 for update",
      [lease.shard, lease.owner],
    );
    if (held.length === 0) throw new LeaseLostError(lease.shard, lease.owner);
    return await fn(tx);
  });
}

/** Whether every container of `ids` is still settled (replaceable). */
export async function replaceable(ctx: { db: DbQuery }, ids: readonly string[]): Promise<boolean> {
  const rows = await ctx.db.query<{ n: number }>(
    `select count(*)::int as n from des_containers
     where container_id = any($1::text[]) and state = any($2::text[])`,
    [[...ids], SETTLED_STATES],
  );
  return rows[0].n === new Set(ids).size;
}

/**
 * Retire `ids` (replaced by `replacedBy`, or by nothing when every file was
 * dead): `retired`, `replaced_by`, `retired_at`. Throws `DesConflictError`
 * (rolling the transaction back) when one of them is no longer settled.
 */
export async function retireReplaced(
  tx: DbQuery,
  replacedBy: string | null,
  ids: readonly string[],
): Promise<void> {
  const unique = [...new Set(ids)];
  const rows = await tx.query<{ id: string }>(
    `update des_containers
       set state = 'retired', replaced_by = $1, retired_at = now(), updated_at = now()
     where container_id = any($2::text[]) and state = any($3::text[])
     returning container_id as id`,
    [replacedBy, unique, SETTLED_STATES],
  );
  if (rows.length !== unique.length) {
    throw new DesConflictError(
      `containers ${unique.join(", ")} are no longer all settled; not retiring them`,
      { replacedBy, containers: unique, retired: rows.length },
    );
  }
}

/**
 * Names among `names` whose tombstone on one of the `from` containers is
 * already erased: big files deleted after the copy was made (a delete
 * removes a big file's object at once, from the container that held it
 * then). The copy still holds them, so the switch must not happen.
 */
export async function erasedSinceCopy(
  tx: DbQuery,
  from: readonly string[],
  names: readonly string[],
): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await tx.query<{ name: string }>(
    `select name from des_tombstones
     where container_id = any($1::text[]) and name = any($2::text[]) and erased_at is not null`,
    [[...from], [...names]],
  );
  return rows.map((r) => r.name);
}

/**
 * Tombstones of `from` containers whose name is among `names` (deleted
 * after the copy was made) now point at `to`, whose dead counters grow by
 * them: the bytes live on in `to` until it is compacted in turn. Returns
 * how many moved.
 */
export async function moveTombstones(
  tx: DbQuery,
  from: readonly string[],
  to: string,
  names: readonly string[],
): Promise<number> {
  if (names.length === 0) return 0;
  const [moved] = await tx.query<{ files: number; bytes: number }>(
    `with moved as (
       update des_tombstones set container_id = $1
       where container_id = any($2::text[]) and name = any($3::text[]) and erased_at is null
       returning bytes)
     select count(*)::int as files, coalesce(sum(bytes), 0)::float8 as bytes from moved`,
    [to, [...from], [...names]],
  );
  if (moved.files > 0) {
    await tx.query(
      `update des_containers
         set dead_files = dead_files + $2, dead_bytes = dead_bytes + $3, updated_at = now()
       where container_id = $1`,
      [to, moved.files, moved.bytes],
    );
  }
  return moved.files;
}
