/**
 * {@linkcode Compactor}: rewrites the settled containers of a shard range
 * whose dead bytes (files deleted by tombstones) exceed a share of their
 * data bytes, and deletes retired containers once their grace period is
 * over. Each shard is worked on under its lease — the one packers take —
 * so compactors with overlapping ranges, packers and recovery never work on
 * the same shard at once. See docs/lifecycle.md, "Compaction".
 *
 * @module
 */

import type { ContainerState } from "../db/container_states.ts";
import { listContainers } from "../db/containers.ts";
import { DesConflictError } from "../core/errors.ts";
import { SETTLED_STATES } from "./compact_switch.ts";
import { compactContainer, compactContainers, type CompactOutcome } from "./compact_container.ts";
import { expiredRetired, expireRetired } from "./compact_expire.ts";
import { CompactMetrics } from "./compact_metrics.ts";
import type { PackContext } from "./pack_context.ts";
import type { PackEnvironment } from "./pack_setup.ts";
import { ShardLease } from "./shard_lease.ts";
import { type MergeCandidate, mergeGroups } from "./merge_groups.ts";

/** Options of a {@linkcode Compactor}. */
export interface CompactorOptions {
  /** First shard of the range, inclusive. */
  rangeStart: number;
  /** Last shard of the range, inclusive. */
  rangeEnd: number;
  /** Dead bytes / data bytes above which a container is compacted (`DES_COMPACT_THRESHOLD`). */
  threshold: number;
  /** Time a retired object stays before it is deleted, in ms (`DES_COMPACT_GRACE`). */
  graceMs: number;
  /** Shard lease length in ms (default 30 000). */
  leaseMs?: number;
  /** Files above this size become `_bigFiles/` objects in the new container. */
  bigFileThreshold: number;
  /**
   * Settled containers of one shard and source with fewer data bytes than
   * this are merged into containers of up to this size, four or more of
   * similar size at a time (`DES_COMPACT_MERGE_BELOW`, see
   * `merge_groups.ts`; default 0: never).
   */
  mergeBelow?: number;
  /** Metrics (default: a private registry). */
  metrics?: CompactMetrics;
  /** Stops the run between containers. */
  signal?: AbortSignal;
}

/** What one {@linkcode Compactor.runOnce} did. */
export interface CompactRunResult {
  /** Containers replaced or retired (each container of a merge counts). */
  compacted: number;
  /** Merges of small containers done (each counted in `compacted` too). */
  merges: number;
  /** Live files copied. */
  filesCopied: number;
  /** Object bytes given back once the old objects are deleted. */
  reclaimedBytes: number;
  /** Retired objects deleted after their grace period. */
  objectsDeleted: number;
  /** Tombstones marked erased. */
  erased: number;
  /** Shards skipped because another worker holds them. */
  busyShards: number;
  /** Failures, with the container or shard and the reason. */
  errors: { shard: number; error: string }[];
}

/** Compacts a shard range; several compactors may run on overlapping ranges. */
export class Compactor {
  /** The metrics this compactor updates. */
  readonly metrics: CompactMetrics;
  readonly #ctx: PackContext;
  readonly #o: CompactorOptions;

  /**
   * @param ctx the packer context (catalog, store, sources, owner, observers)
   * @param options range, threshold, grace period and limits
   */
  constructor(ctx: PackContext, options: CompactorOptions) {
    this.#ctx = ctx;
    this.#o = options;
    this.metrics = options.metrics ?? new CompactMetrics();
  }

  /** Compact every container over the threshold, then delete retired objects past grace. */
  async runOnce(): Promise<CompactRunResult> {
    const result = emptyResult();
    this.metrics.running.set(1);
    try {
      const candidates = await this.candidates();
      // Shards with the most dead bytes first, then those with only merges due.
      const shards = new Set([...candidates.map((c) => c.shard), ...await this.#mergeShards()]);
      for (const shard of shards) {
        if (this.#o.signal?.aborted) break;
        await this.#withShard(
          shard,
          result,
          "compact",
          async (lease) => {
            await this.#compactShard(lease, result);
            await this.#mergeShard(lease, result);
          },
        );
      }
      await this.#expire(result);
      await this.measure();
    } finally {
      this.metrics.running.set(0);
    }
    if (result.compacted > 0 || result.objectsDeleted > 0 || result.errors.length > 0) {
      this.#ctx.log.info("compaction run finished", { ...result });
    }
    return result;
  }

  /**
   * Delete the objects of retired containers whose grace period is over and
   * record the erasure (part of every run; `des recover` runs it alone).
   */
  async expire(): Promise<CompactRunResult> {
    const result = emptyResult();
    await this.#expire(result);
    return result;
  }

  async #expire(result: CompactRunResult): Promise<void> {
    const expired = await expiredRetired(this.#ctx, this.#range, this.#o.graceMs);
    for (const shard of new Set(expired.map((c) => c.shard))) {
      if (this.#o.signal?.aborted) break;
      const ids = expired.filter((c) => c.shard === shard).map((c) => c.containerId);
      await this.#withShard(shard, result, "expire", async (lease) => {
        for (const id of ids) {
          const outcome = await expireRetired(this.#ctx, lease, id);
          result.objectsDeleted++;
          result.erased += outcome.erased;
          this.metrics.objectsDeleted.inc();
          this.metrics.erased.inc({}, outcome.erased);
        }
      });
    }
  }

  /** Settled containers of the range (or of one shard) over the threshold, most dead first. */
  candidates(shard?: number): Promise<{ containerId: string; shard: number }[]> {
    const [start, end] = shard === undefined
      ? [this.#o.rangeStart, this.#o.rangeEnd]
      : [shard, shard];
    return this.#ctx.db.query(
      `select container_id as "containerId", shard from des_containers
       where shard between $1 and $2 and state = any($3::text[]) and dead_files > 0
         and (dead_files >= file_count
           or (data_bytes > 0 and dead_bytes::float8 / data_bytes > $4))
       order by dead_bytes::float8 / greatest(data_bytes, 1) desc, id`,
      [start, end, this.#settled, this.#o.threshold],
    );
  }

  /** Set the dead-ratio and pending gauges for the range. */
  async measure(): Promise<void> {
    const [row] = await this.#ctx.db.query<{ dead: number; data: number }>(
      `select coalesce(sum(dead_bytes), 0)::float8 as dead, coalesce(sum(data_bytes), 0)::float8 as data
       from des_containers where shard between $1 and $2 and state = any($3::text[])`,
      [this.#o.rangeStart, this.#o.rangeEnd, SETTLED_STATES],
    );
    this.metrics.deadRatio.set(row.data > 0 ? row.dead / row.data : 0);
    this.metrics.pending.set((await this.candidates()).length);
  }

  /**
   * States a container is compacted from: with `DES_DELETE_SOURCES` only
   * `sources_released` (a `parent_updated` one still has originals to
   * release; recovery releases them first).
   */
  get #settled(): readonly ContainerState[] {
    return this.#ctx.deleteSources ? ["sources_released"] : SETTLED_STATES;
  }

  get #range(): { start: number; end: number } {
    return { start: this.#o.rangeStart, end: this.#o.rangeEnd };
  }

  async #compactShard(lease: ShardLease, result: CompactRunResult): Promise<void> {
    // Listed again under the lease: another compactor may have finished some.
    for (const { containerId } of await this.candidates(lease.shard)) {
      if (this.#o.signal?.aborted) return;
      const [old] =
        (await listContainers(this.#ctx.db, { shard: lease.shard, states: SETTLED_STATES }))
          .filter((c) => c.containerId === containerId);
      if (!old) continue;
      const outcome = await compactContainer(this.#ctx, lease, old, {
        bigFileThreshold: this.#o.bigFileThreshold,
      });
      this.#count(outcome, result);
    }
  }

  /**
   * Merge the small settled containers of the lease's shard (of configured
   * sources), group by group. A group that cannot be merged (its names are
   * not what the catalog promises) is reported and the next one is tried.
   */
  async #mergeShard(lease: ShardLease, result: CompactRunResult): Promise<void> {
    const limit = this.#o.mergeBelow ?? 0;
    if (limit <= 0) return;
    const settled = await listContainers(this.#ctx.db, {
      shard: lease.shard,
      states: this.#settled,
    });
    const mergeable = settled.filter((c) => this.#ctx.sources.has(c.source));
    for (const group of mergeGroups(mergeable, limit)) {
      if (this.#o.signal?.aborted) return;
      let outcome;
      try {
        outcome = await compactContainers(this.#ctx, lease, group, {
          bigFileThreshold: this.#o.bigFileThreshold,
        });
      } catch (error) {
        if (!(error instanceof DesConflictError)) throw error;
        this.#failed(lease.shard, "compact", error, result);
        continue;
      }
      this.#count(outcome, result);
      result.merges++;
      this.metrics.merges.inc();
    }
  }

  /** Shards of the range where a merge is due (small containers of a configured source). */
  async #mergeShards(): Promise<number[]> {
    const limit = this.#o.mergeBelow ?? 0;
    if (limit <= 0) return [];
    const rows = await this.#ctx.db.query<MergeCandidate & { shard: number }>(
      `select container_id as "containerId", shard, source, data_bytes::float8 as "dataBytes",
         file_count as "fileCount", dead_files as "deadFiles", first_name as "firstName"
       from des_containers
       where shard between $1 and $2 and state = any($3::text[]) and data_bytes < $4
         and source = any($5::text[])`,
      [this.#o.rangeStart, this.#o.rangeEnd, this.#settled, limit, [...this.#ctx.sources.keys()]],
    );
    const byShard = Map.groupBy(rows, (c) => c.shard);
    return [...byShard].filter(([, list]) => mergeGroups(list, limit).length > 0)
      .map(([shard]) => shard);
  }

  #count(outcome: CompactOutcome, result: CompactRunResult): void {
    if (outcome.state === "aborted") {
      throw new Error(`replacement of ${outcome.replaced.join(", ")} was aborted`);
    }
    result.compacted += outcome.replaced.length;
    result.filesCopied += outcome.liveFiles;
    result.reclaimedBytes += outcome.reclaimedBytes;
    this.metrics.compacted.inc({}, outcome.replaced.length);
    this.metrics.reclaimedBytes.inc({}, Math.max(0, outcome.reclaimedBytes));
  }

  /** Claim `shard`, run `fn` under its lease, give it back; failures are recorded, not thrown. */
  async #withShard(
    shard: number,
    result: CompactRunResult,
    kind: "compact" | "expire",
    fn: (lease: ShardLease) => Promise<void>,
  ): Promise<void> {
    let claim;
    try {
      claim = await ShardLease.tryClaim(this.#ctx.db, {
        shard,
        owner: this.#ctx.owner,
        leaseMs: this.#o.leaseMs ?? 30_000,
        log: this.#ctx.log,
      });
    } catch (error) {
      this.metrics.failures.inc({ kind: "claim" });
      result.errors.push({ shard, error: (error as Error).message });
      return;
    }
    if (!claim) {
      result.busyShards++;
      return;
    }
    try {
      await fn(claim.lease);
    } catch (error) {
      this.#failed(shard, kind, error, result);
    } finally {
      await claim.lease.release();
    }
  }

  /** Count, log and report a failure of a shard's compaction or expiry. */
  #failed(
    shard: number,
    kind: "compact" | "expire",
    error: unknown,
    result: CompactRunResult,
  ): void {
    this.metrics.failures.inc({ kind });
    const what = kind === "compact" ? "compaction" : "deletion of retired objects";
    this.#ctx.log.error(`${what} failed; the next run tries again`, {
      shard,
      error: error as Error,
    });
    result.errors.push({ shard, error: (error as Error).message });
  }
}

/** One line on what a compaction run did, as the commands print it. */
export function compactRunSummary(result: CompactRunResult): string {
  return `compacted ${result.compacted} containers (${result.filesCopied} live files copied, ` +
    `${result.merges} merges), deleted ${result.objectsDeleted} retired objects, ` +
    `${result.erased} deletes erased, ${result.busyShards} shards busy, ` +
    `${result.errors.length} errors`;
}

function emptyResult(): CompactRunResult {
  return {
    compacted: 0,
    merges: 0,
    filesCopied: 0,
    reclaimedBytes: 0,
    objectsDeleted: 0,
    erased: 0,
    busyShards: 0,
    errors: [],
  };
}

/**
 * A compactor over `environment`'s range with its `DES_COMPACT_*` settings
 * (threshold, grace period, merge size) and big-file threshold: the one the
 * compactor service runs, and the packer with `--compact`.
 */
export function configuredCompactor(
  ctx: PackContext,
  environment: Pick<PackEnvironment, "config" | "range">,
  extra: Pick<CompactorOptions, "leaseMs" | "metrics" | "signal">,
): Compactor {
  const { config, range } = environment;
  return new Compactor(ctx, {
    rangeStart: range.rangeStart,
    rangeEnd: range.rangeEnd,
    threshold: config.compactThreshold,
    graceMs: config.compactGrace,
    mergeBelow: config.compactMergeBelow,
    bigFileThreshold: config.bigFileThreshold,
    ...extra,
  });
}
