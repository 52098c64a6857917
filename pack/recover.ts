/**
 * Crash recovery. A container left unfinished by a dead packer is taken on
 * from the state its write-ahead record says it reached:
 *
 * | state            | recovery                                                     |
 * |------------------|--------------------------------------------------------------|
 * | `building`       | abort: delete the object, big files, uploads; rows stay marked |
 * | `uploaded`       | verify; then continue, or abort when damaged                 |
 * | `verified`       | commit                                                       |
 * | `committed`      | flip the parent rows to packed                               |
 * | `parent_updated` | delete the originals (only with `deleteSources`)             |
 *
 * Recovery of a shard runs under that shard's lease, so it never races a
 * live packer; {@linkcode recoverAll} also sweeps orphan objects.
 *
 * @module
 */

import type { ContainerState } from "../db/container_states.ts";
import { type ContainerRow, listContainers } from "../db/containers.ts";
import { readPackedFiles } from "./container_files.ts";
import { abortContainer, completeContainer } from "./container_steps.ts";
import type { PackContext } from "./pack_context.ts";
import { type OrphanSweep, sweepOrphans } from "./orphans.ts";
import { ShardLease } from "./shard_lease.ts";

/** States recovery takes on (the last one only when originals are deleted). */
export function unfinishedStates(deleteSources: boolean): ContainerState[] {
  const states: ContainerState[] = ["building", "uploaded", "verified", "committed"];
  if (deleteSources) states.push("parent_updated");
  return states;
}

/** Take one unfinished container on to its end (or abort it); returns its final state. */
export function recoverContainer(
  ctx: PackContext,
  lease: ShardLease,
  row: ContainerRow,
): Promise<ContainerState> {
  ctx.log.info("recovering container", {
    containerId: row.containerId,
    shard: row.shard,
    state: row.state,
    previousOwner: row.owner,
  });
  if (row.state === "building") {
    return abortContainer(ctx, lease, row, `abandoned while building (owner ${row.owner})`)
      .then(() => "aborted" as const);
  }
  return completeContainer(ctx, lease, row, () => readPackedFiles(ctx.store, row.key));
}

/** Per-state counts of recovered containers. */
export type RecoveryTally = Partial<Record<ContainerState, number>>;

/**
 * Recover every unfinished container of the lease's shard, oldest first. The
 * first failure stops the shard: its rows must not be packed again while an
 * earlier container holding them is unresolved.
 */
export async function recoverShard(ctx: PackContext, lease: ShardLease): Promise<RecoveryTally> {
  const tally: RecoveryTally = {};
  const rows = await listContainers(ctx.db, {
    shard: lease.shard,
    states: unfinishedStates(ctx.deleteSources),
  });
  for (const row of rows) {
    try {
      const state = await recoverContainer(ctx, lease, row);
      tally[state] = (tally[state] ?? 0) + 1;
    } catch (error) {
      ctx.metrics.errors.inc({ kind: "recover" });
      throw error;
    }
  }
  return tally;
}

/** What {@linkcode recoverAll} did. */
export interface RecoverAllReport {
  /** Final states of recovered containers. */
  recovered: RecoveryTally;
  /** Shards recovered. */
  shards: number[];
  /** Shards skipped because another worker holds a live lease. */
  busyShards: number[];
  /** Shards whose recovery failed, with the reason. */
  failedShards: { shard: number; error: string }[];
  /** The orphan sweep. */
  orphans: OrphanSweep;
}

/**
 * Recover every unfinished container of shards `[rangeStart, rangeEnd]`
 * (each under its shard's lease; shards leased by a live worker are skipped),
 * then delete orphan objects: objects under the archive layout with no
 * container row, or whose row is aborted.
 */
export async function recoverAll(
  ctx: PackContext,
  options: { rangeStart: number; rangeEnd: number; leaseMs: number },
): Promise<RecoverAllReport> {
  const report: RecoverAllReport = {
    recovered: {},
    shards: [],
    busyShards: [],
    failedShards: [],
    orphans: { deleted: [], uploadsAborted: 0, skippedBusy: 0, foreign: 0, unknown: [] },
  };
  const pending = await listContainers(ctx.db, { states: unfinishedStates(ctx.deleteSources) });
  const shards = [...new Set(pending.map((r) => r.shard))]
    .filter((s) => s >= options.rangeStart && s <= options.rangeEnd)
    .sort((a, b) => a - b);
  for (const shard of shards) {
    const claim = await ShardLease.tryClaim(ctx.db, {
      shard,
      owner: ctx.owner,
      leaseMs: options.leaseMs,
      log: ctx.log,
    });
    if (!claim) {
      report.busyShards.push(shard);
      continue;
    }
    try {
      const tally = await recoverShard(ctx, claim.lease);
      for (const [state, n] of Object.entries(tally) as [ContainerState, number][]) {
        report.recovered[state] = (report.recovered[state] ?? 0) + n;
      }
      report.shards.push(shard);
    } catch (error) {
      ctx.log.error("shard recovery failed", { shard, error: error as Error });
      report.failedShards.push({ shard, error: (error as Error).message });
    } finally {
      await claim.lease.release();
    }
  }
  const live = await liveLeases(ctx, options);
  report.orphans = await sweepOrphans(ctx, { ...options, busyShards: live });
  return report;
}

async function liveLeases(
  ctx: PackContext,
  range: { rangeStart: number; rangeEnd: number },
): Promise<Set<number>> {
  const rows = await ctx.db.query<{ shard: number }>(
    `select shard from des_shards
     where shard between $1 and $2 and lease_owner is not null and lease_owner <> $3
       and lease_expires_at > now()`,
    [range.rangeStart, range.rangeEnd, ctx.owner],
  );
  return new Set(rows.map((r) => r.shard));
}
