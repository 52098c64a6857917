/**
 * Compaction of one settled container: its live files (names without a
 * tombstone) are copied, by one range read each from the old object and
 * checked against their recorded CRC-32C and SHA-256, into a new container
 * written, uploaded and verified like a packed one (`building → uploaded →
 * verified`, with `compacted_from` set). The commit retires the old
 * container in the same transaction (`compact_switch.ts`); then the parent
 * rows are pointed at the new container. A container whose files are all
 * dead is retired without a replacement.
 *
 * @module
 */

import type { ContainerState } from "../db/container_states.ts";
import type { ContainerRow } from "../db/containers.ts";
import { DesReader } from "../format/reader.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { ContainerBuild } from "./container_build.ts";
import { completeContainer } from "./container_steps.ts";
import { fencedTransaction, retireReplaced } from "./compact_switch.ts";
import type { PackContext } from "./pack_context.ts";
import type { ShardLease } from "./shard_lease.ts";

/** What compacting one container did. */
export interface CompactOutcome {
  /** The old container. */
  containerId: string;
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
export async function compactContainer(
  ctx: PackContext,
  lease: ShardLease,
  old: ContainerRow,
  options: { bigFileThreshold: number },
): Promise<CompactOutcome> {
  const source = new StoreRangeSource(ctx.store, old.key, {
    etag: old.etag ?? undefined,
    size: old.size ?? undefined,
  });
  const reader = await DesReader.open(source, { bigFiles: ctx.store });
  const dead = await tombstonedInRange(ctx, old.shard, old.firstName ?? "", old.lastName ?? "");
  const live = [...reader.entries()].filter((e) => !dead.has(e.name));
  const outcome = {
    containerId: old.containerId,
    liveFiles: live.length,
    deadFiles: reader.entryCount - live.length,
  };
  if (live.length === 0) {
    await fencedTransaction(ctx.db, lease, (tx) => retireReplaced(tx, null, [old.containerId]));
    ctx.onTransition("retired", old.containerId);
    ctx.log.info("container retired: every file deleted", { containerId: old.containerId });
    return { ...outcome, replacement: null, state: "retired", reclaimedBytes: old.size ?? 0 };
  }
  const build = await ContainerBuild.start(
    ctx,
    lease,
    old.source,
    { bigFileThreshold: options.bigFileThreshold, streamUpload: false },
    [old.containerId],
  );
  let finished;
  try {
    for (const entry of live) await build.copy(reader, entry);
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
    reclaimedBytes: state === "aborted" ? 0 : (old.size ?? 0) - (record.size ?? 0),
  };
}
