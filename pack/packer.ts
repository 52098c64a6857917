/**
 * {@linkcode Packer}: packs the marked rows of a shard range into DES
 * containers. `runOnce()` walks the range (from a random starting shard, so
 * packers with overlapping ranges spread out), claims each shard's lease,
 * recovers the shard's unfinished containers, packs its marked rows, and
 * gives the lease back. The write-ahead pipeline of each container is in
 * `container_steps.ts`; `docs/packer.md` describes states and recovery.
 *
 * @module
 */

import { hostname } from "node:os";
import { DesInputError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import type { Registry } from "../core/metrics.ts";
import { getContainer, listContainers } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import { ensureShards } from "../db/shards.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { S3ObjectStore } from "../store/s3.ts";
import { removeLocalFiles } from "./container_cleanup.ts";
import { BuildSlots } from "./build_slots.ts";
import { DEFAULT_READ_BOUNDS } from "./original_reader.ts";
import type { PackContext, TransitionHook } from "./pack_context.ts";
import type { PackSource } from "./pack_sources.ts";
import { PackerMetrics } from "./packer_metrics.ts";
import {
  recoverAll,
  type RecoverAllReport,
  type RecoveryTally,
  unfinishedStates,
} from "./recover.ts";
import { packShard, type ShardResult } from "./shard_packer.ts";
import { ShardLease } from "./shard_lease.ts";

/** Options of a {@linkcode Packer}. */
export interface PackerOptions {
  /** DES metadata database (migrated). */
  db: Db;
  /** Parent sources to pack. */
  sources: readonly PackSource[];
  /** Archive store (`DES_ARCHIVE_BUCKET`). */
  store: ObjectStore;
  /** Bucket recorded in the catalog (default: the S3 bucket, or the store URL). */
  bucket?: string;
  /** `DES_SHARD_BITS`. */
  shardBits: number;
  /** Directory where containers are built (`DES_PACKER_WORKDIR`). */
  workdir: string;
  /** Worker id for leases and container rows (default `host:pid:random`). */
  owner?: string;
  /** First shard of the range, inclusive. */
  rangeStart: number;
  /** Last shard of the range, inclusive. */
  rangeEnd: number;
  /** Lease length in ms; renewed every third of it (default 30 000). */
  leaseMs?: number;
  /** Largest sum of inline file bytes per container (default 256 MiB). */
  maxContainerBytes?: number;
  /** Most files per container (default 50 000). */
  maxContainerFiles?: number;
  /** Originals fetched at once, per shard (default 16). */
  fetchConcurrency?: number;
  /**
   * Shards built at once (default 4: originals fetched, containers written);
   * as many more may be finishing their last containers meanwhile (a
   * container spends most of its time waiting on S3 and the databases).
   */
  shardConcurrency?: number;
  /**
   * Built containers of one shard finished at once (upload, verification,
   * commit, parent rows) while the next is built (default 2).
   */
  containersInFlight?: number;
  /** Files above this many bytes become `_bigFiles/` objects (default 16 MiB). */
  bigFileThreshold?: number;
  /** Delete originals after commit and parent update (`DES_DELETE_SOURCES`, default false). */
  deleteSources?: boolean;
  /** Stream containers into a multipart upload instead of the workdir (default false). */
  streamUpload?: boolean;
  /** Marked rows read per query (default 1000). */
  pageSize?: number;
  /** Time one read of an original may take, in ms (`DES_ORIGINAL_READ_TIMEOUT`, default 60 s). */
  originalReadTimeoutMs?: number;
  /** Retries of a read that may pass (`DES_ORIGINAL_READ_RETRIES`, default 2). */
  originalReadRetries?: number;
  /** Logger (default: component `packer`). */
  logger?: Logger;
  /** Metrics registry (default: a private one). */
  metrics?: Registry;
  /** Called after every recorded write-ahead transition (fault injection, tests). */
  onTransition?: TransitionHook;
  /** Called when a shard's lease is taken and before it is given back. */
  onShard?: (event: { shard: number; owner: string; phase: "start" | "end" }) => void;
  /**
   * Called when a container reached the end of its pipeline (committed and
   * its parent rows packed), with its files and bytes: progress that counts
   * only what really happened.
   */
  onPacked?: (files: number, bytes: number) => void;
  /** Stops the run between containers. */
  signal?: AbortSignal;
}

/** What one {@linkcode Packer.runOnce} did. */
export interface PackRunResult {
  /** Shards whose lease was taken and whose work finished. */
  shards: number;
  /** Shards skipped because another worker holds them. */
  busyShards: number;
  /** Files packed. */
  files: number;
  /** Content bytes packed. */
  bytes: number;
  /** Containers that went through the whole pipeline. */
  containers: number;
  /** Containers aborted by verification. */
  aborted: number;
  /** Rows moved to the failed status. */
  failedRows: number;
  /** Unfinished containers of earlier runs, by final state. */
  recovered: RecoveryTally;
  /** Shards that failed, with the reason (their leases were given back). */
  errors: { shard: number; error: string }[];
  /** Wall time in seconds. */
  seconds: number;
}

const MiB = 1024 * 1024;

/** Packs a shard range; several packers may run on overlapping ranges. */
export class Packer {
  /** Worker id written as lease and container owner. */
  readonly owner: string;
  /** The metrics this packer updates. */
  readonly metrics: PackerMetrics;
  readonly #o: PackerOptions;
  readonly #ctx: PackContext;
  readonly #leaseMs: number;
  #shardsReady = false;

  /** @param options database, sources, store, range, limits and observers */
  constructor(options: PackerOptions) {
    checkRange(options.rangeStart, options.rangeEnd, options.shardBits);
    this.#o = options;
    this.owner = options.owner ?? defaultOwner();
    this.metrics = new PackerMetrics(options.metrics);
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#ctx = {
      db: options.db,
      store: options.store,
      bucket: options.bucket ??
        (options.store instanceof S3ObjectStore ? options.store.bucket : options.store.url),
      shardBits: options.shardBits,
      sources: new Map(options.sources.map((s) => [s.config.name, s])),
      deleteSources: options.deleteSources ?? false,
      workdir: options.workdir,
      owner: this.owner,
      log: (options.logger ?? new Logger("packer")).child({ owner: this.owner }),
      metrics: this.metrics,
      onTransition: options.onTransition ?? (() => {}),
      parentBatchSize: 1000,
      deleteConcurrency: 16,
    };
  }

  /** The shared context (for recovery runs with the same settings). */
  get context(): PackContext {
    return this.#ctx;
  }

  /** Pack every marked row of the range once; returns what was done. */
  async runOnce(): Promise<PackRunResult> {
    const started = performance.now();
    const result: PackRunResult = {
      shards: 0,
      busyShards: 0,
      files: 0,
      bytes: 0,
      containers: 0,
      aborted: 0,
      failedRows: 0,
      recovered: {},
      errors: [],
      seconds: 0,
    };
    await this.#prepare();
    await this.#measureBacklog();
    const order = await this.#shardOrder();
    let next = 0;
    // `shardConcurrency` shards are built at once; as many more may be
    // finishing their last containers, each still under its own lease.
    const building = this.#o.shardConcurrency ?? 4;
    const slots = new BuildSlots(building);
    const worker = async () => {
      while (next < order.length && !this.#o.signal?.aborted) {
        const built = await slots.acquire();
        if (next >= order.length || this.#o.signal?.aborted) {
          built();
          break;
        }
        await this.#runShard(order[next++], result, built);
      }
    };
    await Promise.all(Array.from({ length: 2 * building }, worker));
    await this.#measureBacklog();
    result.seconds = (performance.now() - started) / 1000;
    this.#ctx.log.info("packing run finished", { ...result, recovered: result.recovered });
    return result;
  }

  /**
   * Claim one shard, pack it, give it back; failures are recorded in
   * `result`, never thrown: a failed claim must not end the run while the
   * other worker still packs (a later run of this process, same owner, could
   * then claim that worker's shard a second time).
   */
  async #runShard(shard: number, result: PackRunResult, built: () => void): Promise<void> {
    let claim;
    try {
      claim = await ShardLease.tryClaim(this.#ctx.db, {
        shard,
        owner: this.owner,
        leaseMs: this.#leaseMs,
        log: this.#ctx.log,
      });
    } catch (error) {
      this.metrics.errors.inc({ kind: "shard" });
      this.#ctx.log.error("could not claim shard; the next run tries again", {
        shard,
        error: error as Error,
      });
      result.errors.push({ shard, error: (error as Error).message });
      built();
      return;
    }
    if (!claim) {
      result.busyShards++;
      built();
      return;
    }
    if (claim.takenOverFrom) {
      this.#ctx.log.info("took over an expired lease", { shard, from: claim.takenOverFrom });
    }
    this.#o.onShard?.({ shard, owner: this.owner, phase: "start" });
    try {
      add(result, await this.#packShard(claim.lease, built));
      result.shards++;
    } catch (error) {
      this.metrics.errors.inc({ kind: "shard" });
      this.#ctx.log.error("shard packing failed; its lease is given back", {
        shard,
        error: error as Error,
      });
      result.errors.push({ shard, error: (error as Error).message });
    } finally {
      built();
      this.#o.onShard?.({ shard, owner: this.owner, phase: "end" });
      await claim.lease.release();
    }
  }

  /**
   * Recover every unfinished container of the range (shards leased by a live
   * worker are skipped) and delete orphan objects; see `recover.ts`.
   */
  async recoverAll(): Promise<RecoverAllReport> {
    await this.#prepare();
    return await recoverAll(this.#ctx, {
      rangeStart: this.#o.rangeStart,
      rangeEnd: this.#o.rangeEnd,
      leaseMs: this.#leaseMs,
    });
  }

  #packShard(lease: ShardLease, built: () => void): Promise<ShardResult> {
    const o = this.#o;
    return packShard(this.#ctx, lease, {
      bigFileThreshold: o.bigFileThreshold ?? 16 * MiB,
      streamUpload: o.streamUpload ?? false,
      maxContainerBytes: o.maxContainerBytes ?? 256 * MiB,
      maxContainerFiles: o.maxContainerFiles ?? 50_000,
      fetchConcurrency: o.fetchConcurrency ?? 16,
      containersInFlight: o.containersInFlight ?? 2,
      pageSize: o.pageSize ?? 1000,
      readBounds: {
        timeoutMs: o.originalReadTimeoutMs ?? DEFAULT_READ_BOUNDS.timeoutMs,
        retries: o.originalReadRetries ?? DEFAULT_READ_BOUNDS.retries,
      },
      onPacked: o.onPacked,
      onBuilt: built,
      signal: o.signal,
    });
  }

  /** Set the backlog gauge: rows marked but not packed, per source (best effort). */
  async #measureBacklog(): Promise<void> {
    for (const source of this.#ctx.sources.values()) {
      try {
        const counts = await source.table.countByStatus();
        this.metrics.backlog.set(counts.marked, { source: source.config.name });
      } catch (error) {
        this.#ctx.log.warn("could not count marked rows", {
          source: source.config.name,
          error: error as Error,
        });
      }
    }
  }

  /** Shard rows exist, the workdir exists and holds no leftovers of finished containers. */
  async #prepare(): Promise<void> {
    if (!this.#shardsReady) {
      await ensureShards(this.#ctx.db, this.#ctx.shardBits);
      this.#shardsReady = true;
    }
    await Deno.mkdir(this.#ctx.workdir, { recursive: true });
    for await (const entry of Deno.readDir(this.#ctx.workdir)) {
      const m = /^([0-9a-f]{32})\.des/.exec(entry.name);
      if (!entry.isFile || !m) continue;
      const row = await getContainer(this.#ctx.db, m[1]);
      if (row?.state !== "building") await removeLocalFiles(this.#ctx.workdir, m[1]);
    }
  }

  /**
   * The range, rotated to start at a random shard, with shards that hold
   * unfinished containers of earlier runs first (their rows wait for them).
   */
  async #shardOrder(): Promise<number[]> {
    const { rangeStart, rangeEnd } = this.#o;
    const n = rangeEnd - rangeStart + 1;
    const offset = Math.floor(Math.random() * n);
    const rotated = Array.from({ length: n }, (_, i) => rangeStart + ((i + offset) % n));
    const unfinished = await listContainers(this.#ctx.db, {
      states: unfinishedStates(this.#ctx.deleteSources),
    });
    const first = new Set(unfinished.map((c) => c.shard));
    return [...rotated.filter((s) => first.has(s)), ...rotated.filter((s) => !first.has(s))];
  }
}

function add(total: PackRunResult, shard: ShardResult): void {
  total.files += shard.files;
  total.bytes += shard.bytes;
  total.containers += shard.containers;
  total.aborted += shard.aborted;
  total.failedRows += shard.failedRows;
  for (const [state, n] of Object.entries(shard.recovered)) {
    const key = state as keyof RecoveryTally;
    total.recovered[key] = (total.recovered[key] ?? 0) + (n ?? 0);
  }
}

function checkRange(start: number, end: number, shardBits: number): void {
  const max = 2 ** shardBits - 1;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > max || start > end) {
    throw new DesInputError(
      `shard range ${start}-${end} must lie within 0-${max} (DES_SHARD_BITS=${shardBits})`,
      { rangeStart: start, rangeEnd: end, shardBits },
    );
  }
}

function defaultOwner(): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${hostname()}:${Deno.pid}:${random}`;
}
