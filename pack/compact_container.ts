/**
 * Compaction of settled containers of one shard and source: the live files
 * (names without a tombstone) of one container — or of several small ones,
 * merged — are copied, by one range read each from the old objects and
 * checked against their recorded CRC-32C and SHA-256, into a new container
 * written, uploaded and verified like a packed one (`building → uploaded →
 * verified`, with `compacted_from` set to the old ids). The commit retires
 * the old containers in the same transaction (`compact_switch.ts`); then
 * the parent rows are pointed at the new container. Old containers whose
 * files are all dead are retired without a replacement.
 *
 * @module
 */

import type { ContainerState } from "../db/container_states.ts";
import type { ContainerRow } from "../db/containers.ts";
import { DesConfigError, DesConflictError } from "../core/errors.ts";
import type { IndexEntry } from "../format/index.ts";
import { DesReader } from "../format/reader.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { ContainerBuild } from "./container_build.ts";
import { completeContainer } from "./container_steps.ts";
import { fencedTransaction, retireReplaced } from "./compact_switch.ts";
import type { PackContext } from "./pack_context.ts";
import type { ShardLease } from "./shard_lease.ts";

/** What compacting one container (or merging several) did. */
export interface CompactOutcome {
  /** The old container (the first one of a merge). */
  containerId: string;
  /** Every old container, retired by the switch. */
  replaced: string[];
  /** The new container (null when every file was dead). */
  replacement: string | null;
  /** Final state of the replacement (`retired` when there is none). */
  state: ContainerState;
  /** Files copied. */
  liveFiles: number;
  /** Files left behind (tombstoned). */
  deadFiles: number;
  /** Old object size minus the replacement's. */
  reclaimedBytes: number;
}

/** Names of shard `shard` between `first` and `last` that have a tombstone. */
export async function tombstonedInRange(
  ctx: Pick<PackContext, "db">,
  shard: number,
  first: string,
  last: string,
): Promise<Set<string>> {
  const rows = await ctx.db.query<{ name: string }>(
    `select name from des_tombstones
     where shard = $1 and name collate "C" >= $2 and name collate "C" <= $3`,
    [shard, first, last],
  );
  return new Set(rows.map((r) => r.name));
}

/** Compact `old` (settled, in the lease's shard) under the lease. */
export function compactContainer(
  ctx: PackContext,
  lease: ShardLease,
  old: ContainerRow,
  options: { bigFileThreshold: number },
): Promise<CompactOutcome> {
  return compactContainers(ctx, lease, [old], options);
}

/**
 * Compact `olds` (settled, of the lease's shard and of one source) into one
 * new container under the lease: one container rewritten without its dead
 * files, or several small ones merged.
 */
export async function compactContainers(
  ctx: PackContext,
  lease: ShardLease,
  olds: readonly ContainerRow[],
  options: { bigFileThreshold: number },
): Promise<CompactOutcome> {
  const replaced = olds.map((c) => c.containerId);
  const sources = new Set(olds.map((c) => c.source));
  if (olds.length === 0 || sources.size !== 1 || olds.some((c) => c.shard !== lease.shard)) {
    throw new DesConflictError("compaction takes containers of the lease's shard and one source", {
      shard: lease.shard,
      containers: replaced,
    });
  }
  // The parent rows of the copies are pointed at the new container after the switch: a
  // source missing from the sources file would leave them naming the old objects.
  if (!ctx.sources.has(olds[0].source)) {
    throw new DesConfigError(
      `containers of source "${olds[0].source}" are not compacted: it is not in the sources file`,
      { source: olds[0].source, containers: replaced },
    );
  }
  const live: { reader: DesReader; entry: IndexEntry }[] = [];
  const names = new Set<string>();
  let files = 0;
  for (const old of olds) {
    const source = new StoreRangeSource(ctx.store, old.key, {
      etag: old.etag ?? undefined,
      size: old.size ?? undefined,
    });
    const reader = await DesReader.open(source, { bigFiles: ctx.store });
    const dead = await tombstonedInRange(ctx, old.shard, old.firstName ?? "", old.lastName ?? "");
    files += reader.entryCount;
    for (const entry of reader.entries()) {
      if (dead.has(entry.name)) continue;
      // A live name is in exactly one visible container: twice means the catalog is wrong.
      if (names.has(entry.name)) {
        throw new DesConflictError(`${entry.name} is live in two of the containers to merge`, {
          name: entry.name,
          containers: replaced,
        });
      }
      names.add(entry.name);
      live.push({ reader, entry });
    }
  }
  const oldBytes = olds.reduce((sum, c) => sum + (c.size ?? 0), 0);
  const outcome = {
    containerId: replaced[0],
    replaced,
    liveFiles: live.length,
    deadFiles: files - live.length,
  };
  if (live.length === 0) {
    await fencedTransaction(ctx.db, lease, (tx) => retireReplaced(tx, null, replaced));
    for (const id of replaced) ctx.onTransition("retired", id);
    ctx.log.info("container retired: every file deleted", { containers: replaced });
    return { ...outcome, replacement: null, state: "retired", reclaimedBytes: oldBytes };
  }
  const build = await ContainerBuild.start(
    ctx,
    lease,
    olds[0].source,
    { bigFileThreshold: options.bigFileThreshold, streamUpload: false },
    replaced,
  );
  let finished;
  try {
    for (const { reader, entry } of live) await build.copy(reader, entry);
    finished = await build.finishAndUpload();
  } catch (error) {
    await build.abandon(`compaction failed: ${(error as Error).message}`).catch(() => {});
    throw error;
  }
  const { record, check } = finished;
  const state = await completeContainer(
    ctx,
    lease,
    record,
    () => Promise.resolve(build.files),
    check,
  );
  ctx.log.info("container compacted", { ...outcome, replacement: record.containerId, state });
  return {
    ...outcome,
    replacement: record.containerId,
    state,
    reclaimedBytes: state === "aborted" ? 0 : oldBytes - (record.size ?? 0),
  };
}
