/**
 * The end of a retired container: once its grace period is over (readers
 * that located a file in it before the switch have finished), its object,
 * big files, pending uploads and local files are deleted, and then — in one
 * transaction, only after the deletes succeeded — the container becomes
 * `deleted` (`object_deleted_at`) and every tombstone still pointing at it
 * gets `erased_at` and `erased_by`: no stored object holds those bytes any
 * more. A tombstone written after the switch for a name the replacement
 * still holds moves to the replacement instead (its bytes live on there).
 *
 * @module
 */

import type { ContainerRow } from "../db/containers.ts";
import { getContainer, setContainerState } from "../db/containers.ts";
import { DesReader } from "../format/reader.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { removeContainerObjects } from "./container_cleanup.ts";
import { ContainerMovedError } from "./container_steps.ts";
import { fencedTransaction, moveTombstones } from "./compact_switch.ts";
import type { PackContext } from "./pack_context.ts";
import type { ShardLease } from "./shard_lease.ts";

/** What deleting one retired container did. */
export interface ExpireOutcome {
  /** Tombstones marked erased. */
  erased: number;
  /** Tombstones moved to the replacement that still holds their names. */
  moved: number;
}

/**
 * Retired containers of shards `[start, end]` whose grace period of
 * `graceMs` is over, and whose replacement (if any) has its parent rows
 * pointed at it: until then the parent still names the old object, which
 * must stay.
 */
export function expiredRetired(
  ctx: Pick<PackContext, "db">,
  range: { start: number; end: number },
  graceMs: number,
): Promise<Pick<ContainerRow, "containerId" | "shard">[]> {
  return ctx.db.query(
    `select c.container_id as "containerId", c.shard from des_containers c
     where c.shard between $1 and $2 and c.state = 'retired'
       and c.retired_at <= now() - $3::double precision * interval '1 millisecond'
       and (c.replaced_by is null or exists (
         select 1 from des_containers r where r.container_id = c.replaced_by
           and r.state in ('parent_updated', 'sources_released', 'retired', 'deleted')))
     order by c.retired_at`,
    [range.start, range.end, graceMs],
  );
}

/** Delete the object of retired container `containerId` and record the erasure, under the lease. */
export async function expireRetired(
  ctx: PackContext,
  lease: ShardLease,
  containerId: string,
): Promise<ExpireOutcome> {
  const row = await getContainer(ctx.db, containerId);
  if (row?.state !== "retired") throw new ContainerMovedError(containerId, "retired", "deleted");
  await removeContainerObjects(ctx, row);
  const holder = await liveHolder(ctx, row.replacedBy);
  const pending = await ctx.db.query<{ name: string }>(
    "select name from des_tombstones where container_id = $1 and erased_at is null",
    [containerId],
  );
  const kept = holder && pending.length > 0 ? await namesIn(ctx, holder, pending) : [];
  const erasedBy = row.replacedBy
    ? `compaction: replaced by ${row.replacedBy}`
    : "compaction: every file of the container was deleted";
  const outcome = await fencedTransaction(ctx.db, lease, async (tx) => {
    if (!await setContainerState(tx, containerId, "retired", "deleted")) {
      throw new ContainerMovedError(containerId, "retired", "deleted");
    }
    const moved = holder ? await moveTombstones(tx, [containerId], holder.containerId, kept) : 0;
    const erased = await tx.query(
      `update des_tombstones set erased_at = now(), erased_by = $2
       where container_id = $1 and erased_at is null returning name`,
      [containerId, erasedBy],
    );
    return { erased: erased.length, moved };
  });
  ctx.onTransition("deleted", containerId);
  ctx.log.info("retired container deleted", { containerId, key: row.key, ...outcome });
  return outcome;
}

/** The first container along the `replaced_by` chain whose object still exists. */
async function liveHolder(ctx: PackContext, id: string | null): Promise<ContainerRow | null> {
  for (let hops = 0; id && hops < 100; hops++) {
    const row = await getContainer(ctx.db, id);
    if (!row) return null;
    if (row.state !== "deleted" && row.state !== "aborted") return row;
    id = row.replacedBy;
  }
  return null;
}

async function namesIn(
  ctx: PackContext,
  holder: ContainerRow,
  names: { name: string }[],
): Promise<string[]> {
  const source = new StoreRangeSource(ctx.store, holder.key, {
    etag: holder.etag ?? undefined,
    size: holder.size ?? undefined,
  });
  const reader = await DesReader.open(source, { bigFiles: ctx.store });
  return names.map((n) => n.name).filter((name) => reader.find(name) !== undefined);
}
