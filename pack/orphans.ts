/**
 * The orphan sweep: objects (and incomplete uploads) in the archive store
 * laid out by the packer whose container row is aborted are deleted. A row is
 * always written before the first byte of its container is uploaded, and rows
 * are never deleted, so an object with NO row does not come from a crashed
 * packer: it means the catalog was lost or restored from an older backup.
 * Such objects are reported (run `des rebuild-catalog`) and never deleted —
 * a sweep over an empty catalog must not empty the archive. Shards leased by
 * a live worker are left alone, and keys the packer did not lay out are never
 * touched.
 *
 * @module
 */

import type { ContainerState } from "../db/container_states.ts";
import type { PackContext } from "./pack_context.ts";
import { parseArchiveKey, type ParsedArchiveKey } from "./layout.ts";

/** What a sweep did. */
export interface OrphanSweep {
  /** Keys of deleted objects. */
  deleted: string[];
  /** Incomplete multipart uploads aborted. */
  uploadsAborted: number;
  /** Packer objects left alone because their shard is leased by a live worker. */
  skippedBusy: number;
  /** Objects that are not laid out by the packer (never touched). */
  foreign: number;
  /** Packer objects with no catalog row at all (kept; `des rebuild-catalog` adopts them). */
  unknown: string[];
}

/** Options of {@linkcode sweepOrphans}. */
export interface SweepOptions {
  /** First shard swept. */
  rangeStart: number;
  /** Last shard swept. */
  rangeEnd: number;
  /** Shards to leave alone (leased by a live worker). */
  busyShards: ReadonlySet<number>;
}

const LOOKUP_BATCH = 1000;

/** Delete orphan objects and abort orphan uploads in shards `[rangeStart, rangeEnd]`. */
export async function sweepOrphans(
  ctx: Pick<PackContext, "db" | "store" | "log">,
  options: SweepOptions,
): Promise<OrphanSweep> {
  const sweep: OrphanSweep = {
    deleted: [],
    uploadsAborted: 0,
    skippedBusy: 0,
    foreign: 0,
    unknown: [],
  };
  const candidates: { key: string; parsed: ParsedArchiveKey }[] = [];
  const flush = async () => {
    const states = await containerStates(ctx, candidates.map((c) => c.parsed.containerId));
    for (const { key, parsed } of candidates) {
      const state = states.get(parsed.containerId);
      if (state === undefined) {
        sweep.unknown.push(key);
        continue;
      }
      if (state !== "aborted") continue;
      await ctx.store.delete(key);
      sweep.deleted.push(key);
    }
    candidates.length = 0;
  };
  for await (const object of ctx.store.list("")) {
    const parsed = classify(object.key, options, sweep);
    if (!parsed) continue;
    candidates.push({ key: object.key, parsed });
    if (candidates.length >= LOOKUP_BATCH) await flush();
  }
  await flush();
  sweep.uploadsAborted = await abortOrphanUploads(ctx, options);
  if (sweep.unknown.length > 0) {
    ctx.log.warn("objects without a catalog row kept; run des rebuild-catalog to adopt them", {
      objects: sweep.unknown.length,
      first: sweep.unknown[0],
    });
  }
  if (sweep.deleted.length > 0 || sweep.uploadsAborted > 0) {
    ctx.log.info("orphans removed", {
      objects: sweep.deleted.length,
      uploads: sweep.uploadsAborted,
    });
  }
  return sweep;
}

function classify(
  key: string,
  options: SweepOptions,
  sweep: OrphanSweep,
): ParsedArchiveKey | undefined {
  const parsed = parseArchiveKey(key);
  if (!parsed) {
    sweep.foreign++;
    return undefined;
  }
  if (parsed.shard < options.rangeStart || parsed.shard > options.rangeEnd) return undefined;
  if (options.busyShards.has(parsed.shard)) {
    sweep.skippedBusy++;
    return undefined;
  }
  return parsed;
}

async function containerStates(
  ctx: Pick<PackContext, "db">,
  ids: string[],
): Promise<Map<string, ContainerState>> {
  if (ids.length === 0) return new Map();
  const rows = await ctx.db.query<{ containerId: string; state: ContainerState }>(
    `select container_id as "containerId", state from des_containers
     where container_id = any($1::text[])`,
    [[...new Set(ids)]],
  );
  return new Map(rows.map((r) => [r.containerId, r.state]));
}

/**
 * Abort incomplete uploads of containers that have no row, were aborted, or
 * are already finished: only a `building` container may still be uploading.
 * (An incomplete upload holds no readable object, so aborting one is safe
 * even when the catalog was lost.)
 */
async function abortOrphanUploads(
  ctx: Pick<PackContext, "db" | "store">,
  options: SweepOptions,
): Promise<number> {
  const store = ctx.store;
  let aborted = 0;
  for await (const upload of store.listIncompleteUploads("")) {
    const parsed = parseArchiveKey(upload.key);
    if (!parsed || parsed.shard < options.rangeStart || parsed.shard > options.rangeEnd) continue;
    if (options.busyShards.has(parsed.shard)) continue;
    const state = (await containerStates(ctx, [parsed.containerId])).get(parsed.containerId);
    if (state === "building") continue;
    await store.abortIncompleteUpload(upload);
    aborted++;
  }
  return aborted;
}
