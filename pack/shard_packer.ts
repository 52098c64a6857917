/**
 * Packing of one shard whose lease is held: first recover the shard's
 * unfinished containers, then, source by source, read the marked rows in
 * name order (keyset pages), fetch their originals ahead with bounded
 * concurrency, and cut them into containers by the size and count limits.
 * Each container goes through the whole write-ahead pipeline in order;
 * while up to `containersInFlight` of them are uploaded, verified,
 * committed and recorded, the next one is being built.
 *
 * @module
 */

import type { ContainerState } from "../db/container_states.ts";
import type { ParentRow, ParentTable } from "../parent/parent_table.ts";
import { fetchAhead } from "./bounded_concurrency.ts";
import { type BuildOptions, ContainerBuild } from "./container_build.ts";
import { ContainerPipeline } from "./container_pipeline.ts";
import { completeContainer } from "./container_steps.ts";
import {
  isPermanentReadError,
  originalReader,
  probeOriginals,
  type ReadBounds,
} from "./original_reader.ts";
import type { PackContext } from "./pack_context.ts";
import { type PackedContainer, PackJobRecord } from "./pack_job.ts";
import type { PackSource } from "./pack_sources.ts";
import { recoverShard, type RecoveryTally } from "./recover.ts";
import { LeaseLostError, type ShardLease } from "./shard_lease.ts";

/** Limits and tuning of packing. */
export interface ShardPackOptions extends BuildOptions {
  /** Largest sum of inline file bytes per container. */
  maxContainerBytes: number;
  /** Most files per container. */
  maxContainerFiles: number;
  /** Originals fetched at once. */
  fetchConcurrency: number;
  /** Built containers of the shard finished (uploaded … parent rows) at once. */
  containersInFlight: number;
  /** Marked rows read per query. */
  pageSize: number;
  /** Timeout and retries of each original's read. */
  readBounds: ReadBounds;
  /** Called when a container reached the end of its pipeline, with its files and bytes. */
  onPacked?: (files: number, bytes: number) => void;
  /**
   * Called once the shard's last container was handed to the finishing
   * pipeline (nothing more is read or written locally; its containers may
   * still be uploaded, verified, committed and flipped).
   */
  onBuilt?: () => void;
  /** Stops before the next container starts. */
  signal?: AbortSignal;
}

/** What packing one shard did. */
export interface ShardResult {
  /** The shard. */
  shard: number;
  /** Files in containers that reached the end of the pipeline. */
  files: number;
  /** Their content bytes. */
  bytes: number;
  /** Containers that reached the end of the pipeline. */
  containers: number;
  /** Containers aborted (verification failed). */
  aborted: number;
  /** Rows moved to the failed status (missing originals). */
  failedRows: number;
  /** Unfinished containers found and recovered first, by final state. */
  recovered: RecoveryTally;
}

/** Recover, then pack every marked row of the lease's shard. */
export async function packShard(
  ctx: PackContext,
  lease: ShardLease,
  options: ShardPackOptions,
): Promise<ShardResult> {
  const result: ShardResult = {
    shard: lease.shard,
    files: 0,
    bytes: 0,
    containers: 0,
    aborted: 0,
    failedRows: 0,
    recovered: await recoverShard(ctx, lease),
  };
  const sources = [...ctx.sources.values()];
  for (const [i, source] of sources.entries()) {
    if (options.signal?.aborted) break;
    await packSource(ctx, lease, source, options, result, i === sources.length - 1);
  }
  return result;
}

async function packSource(
  ctx: PackContext,
  lease: ShardLease,
  source: PackSource,
  options: ShardPackOptions,
  result: ShardResult,
  lastSource: boolean,
): Promise<void> {
  const rows = markedRows(source.table, lease.shard, options.pageSize);
  const failed = new FailedRows(source.table);
  const limits = { maxBytes: options.maxContainerBytes, maxFiles: options.maxContainerFiles };
  const job = new PackJobRecord(ctx, lease.shard, source.config.name);
  const finisher = new ContainerPipeline<ContainerBuild>(
    (done) =>
      finishContainer(ctx, lease, done, result, async (packed) => {
        options.onPacked?.(packed.files, packed.bytes);
        await job.packed(packed);
      }),
    options.containersInFlight,
  );
  let build: ContainerBuild | undefined;
  try {
    const read = originalReader(source.originals, options.readBounds);
    const fetched = fetchAhead(rows, (row) => read(row.location), options.fetchConcurrency);
    for await (const f of fetched) {
      if (lease.lost) throw new LeaseLostError(lease.shard, lease.owner);
      finisher.check();
      if (!f.ok) {
        // A failure that may pass is the row's own only when the storage
        // answers; otherwise the whole shard waits for the next run.
        if (!isPermanentReadError(f.error)) {
          await probeOriginals(source.originals, options.readBounds.timeoutMs);
        }
        ctx.metrics.errors.inc({ kind: "missing_original" });
        ctx.log.warn("original cannot be read; row moved to failed", {
          source: source.config.name,
          id: f.item.id,
          location: f.item.location,
          error: f.error as Error,
        });
        await failed.add(f.item.id, deadLetterReason(f.error));
        continue;
      }
      if (build?.wouldOverflow(f.value.size, limits)) {
        // Handed over only once the pipeline took it; until then a failure abandons it here.
        await finisher.submit(build);
        build = undefined;
        if (options.signal?.aborted) break;
      }
      if (!build) {
        await job.begin();
        build = await ContainerBuild.start(ctx, lease, source.config.name, options);
      }
      await build.add(f.item, f.value);
    }
    if (build) {
      await finisher.submit(build);
      build = undefined;
    }
    if (lastSource) options.onBuilt?.();
    await finisher.drain();
    await job.finish();
  } catch (error) {
    if (build) {
      await build.abandon(`packing failed: ${(error as Error).message}`).catch((e) => {
        ctx.log.warn("could not abandon container; recovery will", {
          containerId: build!.containerId,
          error: e as Error,
        });
      });
    }
    await finisher.drain().catch(() => {});
    await job.finish(error);
    throw error;
  } finally {
    result.failedRows += await failed.flush();
  }
}

/**
 * Upload, verify and commit one built container and flip its parent rows;
 * returns the step that records it (counts, log line, `onPacked`), or
 * nothing when verification aborted it.
 */
async function finishContainer(
  ctx: PackContext,
  lease: ShardLease,
  build: ContainerBuild,
  result: ShardResult,
  onPacked: (packed: PackedContainer) => Promise<void>,
): Promise<(() => Promise<void>) | undefined> {
  let uploaded;
  try {
    uploaded = await build.finishAndUpload();
  } catch (error) {
    ctx.metrics.errors.inc({ kind: "upload" });
    await build.abandon(`upload failed: ${(error as Error).message}`).catch(() => {});
    throw error;
  }
  const state: ContainerState = await completeContainer(
    ctx,
    lease,
    uploaded.record,
    () => Promise.resolve(build.files),
    uploaded.check,
  );
  const seconds = (performance.now() - build.startedAt) / 1000;
  ctx.metrics.containerSeconds.observe(seconds, { source: uploaded.record.source });
  if (state === "aborted") {
    result.aborted++;
    return undefined;
  }
  return async () => {
    result.containers++;
    result.files += build.files.length;
    result.bytes += build.contentBytes;
    await onPacked({
      containerId: build.containerId,
      files: build.files.length,
      bytes: build.contentBytes,
      lastName: build.files.at(-1)?.desName,
    });
    ctx.log.info("container packed", {
      containerId: build.containerId,
      shard: lease.shard,
      source: uploaded.record.source,
      files: build.files.length,
      bytes: build.contentBytes,
      size: uploaded.record.size,
      state,
      seconds: Math.round(seconds * 1000) / 1000,
    });
  };
}

/** Marked rows of one shard in name order, page by page. */
async function* markedRows(
  table: ParentTable,
  shard: number,
  pageSize: number,
): AsyncGenerator<ParentRow> {
  let afterName: string | undefined;
  for (;;) {
    const page = await table.markedRows({ shard, limit: pageSize, afterName });
    yield* page;
    if (page.length < pageSize) return;
    afterName = page[page.length - 1].desName;
  }
}

/** The reason written into the parent's error column: one readable line. */
function deadLetterReason(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
  return text.length > 1000 ? `${text.slice(0, 999)}…` : text;
}

/** Rows to move to the failed status, written in batches. */
class FailedRows {
  readonly #table: ParentTable;
  readonly #ids: string[] = [];
  readonly #reasons: string[] = [];
  #written = 0;

  constructor(table: ParentTable) {
    this.#table = table;
  }

  /** Queue a row; writes the queue when it is long. */
  async add(id: string, reason: string): Promise<void> {
    this.#ids.push(id);
    this.#reasons.push(reason);
    if (this.#ids.length >= 500) await this.flush();
  }

  /** Write the queued rows; returns the rows written so far in total. */
  async flush(): Promise<number> {
    if (this.#ids.length > 0) {
      this.#written += await this.#table.markFailed(this.#ids.splice(0), this.#reasons.splice(0));
    }
    return this.#written;
  }
}
