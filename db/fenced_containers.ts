/**
 * Catalog writes of a container fenced by its shard's lease, each in ONE
 * statement (one round trip, atomic on its own) instead of a transaction of
 * four (`BEGIN`, lease check, write, `COMMIT`). The statement locks the
 * shard row when — and only when — the lease still names `owner`
 * (`SELECT … FOR UPDATE`), makes its write only then, and extends an
 * expired lease nobody claimed, exactly as the transaction did: a worker
 * that lost its lease writes nothing.
 *
 * @module
 */

import type { ContainerState } from "./container_states.ts";
import {
  type ContainerFacts,
  createError,
  type NewContainer,
  newContainerParams,
  stateChange,
  stateChangeError,
} from "./containers.ts";
import { type DbQuery, PREPARED } from "./db.ts";

/** The lease a write is fenced by. */
export interface LeaseFence {
  /** The shard. */
  shard: number;
  /** The worker that must hold it. */
  owner: string;
  /** Lease length in ms (an expired lease still ours is extended by this much). */
  leaseMs: number;
}

/** What a fenced write found. */
export interface FencedOutcome {
  /** The lease was still held by the owner (when false, nothing was written). */
  held: boolean;
  /** The write took place (the insert, or the compare-and-set of the state). */
  done: boolean;
}

/** A committed container's counts, added to its shard's progress in the same statement. */
export interface ShardProgress {
  /** Files in the container. */
  files: number;
  /** Their content bytes. */
  bytes: number;
}

/**
 * The fence around `write` (a data-modifying CTE named `done` that may use
 * `exists (select 1 from lease)`), with the lease's parameters numbered from
 * `first`: `$first` shard, `+1` owner, `+2` lease ms. `progress` (when set:
 * `+3` files, `+4` bytes) is added to the shard row only when `done` wrote.
 */
function fenced(write: string, first: number, progress: boolean): string {
  const [shard, owner, ms, files, bytes] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  const counts = progress
    ? `, last_packed_at = case when exists (select 1 from done) then now() else last_packed_at end,
         packed_containers = packed_containers + (select count(*) from done),
         packed_files = packed_files + (select count(*) from done) * ${files}::bigint,
         packed_bytes = packed_bytes + (select count(*) from done) * ${bytes}::bigint`
    : "";
  return `with lease as (
      select 1 from des_shards where shard = ${shard} and lease_owner = ${owner} for update
    ), done as (${write}
    ), extended as (
      update des_shards
         set lease_expires_at = greatest(lease_expires_at,
               now() + ${ms}::double precision * interval '1 millisecond')${counts}
       where shard = ${shard} and exists (select 1 from lease)
      returning 1
    )
    select exists (select 1 from lease) as held, exists (select 1 from done) as done`;
}

/**
 * Insert `c` in state `building` if `fence` still holds. Throws like
 * `createContainer` for a duplicate or an invalid row.
 */
export async function createContainerFenced(
  db: DbQuery,
  fence: LeaseFence,
  c: NewContainer,
): Promise<FencedOutcome> {
  const params = newContainerParams(c);
  const write = `insert into des_containers
        (container_id, shard, source, bucket, key, owner, compacted_from)
      select $1::text, $2::int, $3::text, $4::text, $5::text, $6::text, $7::text[]
       where exists (select 1 from lease) returning 1`;
  try {
    const [row] = await db.query<FencedOutcome>(
      fenced(write, params.length + 1, false),
      [...params, fence.shard, fence.owner, fence.leaseMs],
      PREPARED,
    );
    return row;
  } catch (err) {
    throw createError(err, c);
  }
}

/**
 * Move a container from `from` to `to` with `facts` (compare-and-set, as
 * `setContainerState`) if `fence` still holds; with `progress`, add the
 * container to its shard's progress in the same statement when it moved.
 */
export async function setContainerStateFenced(
  db: DbQuery,
  fence: LeaseFence,
  change: {
    containerId: string;
    from: ContainerState;
    to: ContainerState;
    facts?: ContainerFacts;
    progress?: ShardProgress;
  },
): Promise<FencedOutcome> {
  const { containerId, from, to, facts, progress } = change;
  const { sets, params } = stateChange(containerId, from, to, facts);
  const write = `update des_containers set ${sets}
       where container_id = $1 and state = $2 and exists (select 1 from lease) returning 1`;
  const all = [...params, fence.shard, fence.owner, fence.leaseMs];
  if (progress) all.push(progress.files, progress.bytes);
  try {
    const [row] = await db.query<FencedOutcome>(
      fenced(write, params.length + 1, progress !== undefined),
      all,
      PREPARED,
    );
    return row;
  } catch (err) {
    throw stateChangeError(err, containerId, to);
  }
}
