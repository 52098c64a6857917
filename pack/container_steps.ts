/**
 * The write-ahead steps of one container after its upload, shared by the
 * packer and by recovery. Each step does its work, then records the new
 * state with a compare-and-set under the shard lease, before the next step
 * starts:
 *
 * ```
 * uploaded ─verify─► verified ─commit─► committed ─parent rows─► parent_updated
 *     └─ damaged ─► aborted (objects deleted)        ─delete originals─► sources_released
 *                                   (only those no unpacked row still names)
 * ```
 *
 * @module
 */

import { DesConfigError, DesConflictError } from "../core/errors.ts";
import type { ContainerState } from "../db/container_states.ts";
import { type ContainerFacts, type ContainerRow, setContainerState } from "../db/containers.ts";
import { setContainerStateFenced, type ShardProgress } from "../db/fenced_containers.ts";
import { removeContainerObjects } from "./container_cleanup.ts";
import { containerLocation } from "./layout.ts";
import type { PackContext } from "./pack_context.ts";
import type { PackSource } from "./pack_sources.ts";
import { releaseOriginals } from "./release_originals.ts";
import type { ShardLease } from "./shard_lease.ts";
import { verifyUpload, type WriterFacts } from "./verify_upload.ts";
import {
  erasedSinceCopy,
  fencedTransaction,
  moveTombstones,
  replaceable,
  retireReplaced,
} from "./compact_switch.ts";
import { inSpan } from "../core/spans.ts";

/** A container left its expected state: another worker moved it first. */
export class ContainerMovedError extends DesConflictError {
  /** @param containerId the container @param from the state it was expected in */
  constructor(containerId: string, from: ContainerState, to: ContainerState) {
    super(`container ${containerId} is no longer ${from}; not moving it to ${to}`, {
      containerId,
      from,
      to,
    });
  }
}

/** What the steps need to know about a container (a catalog row, or the writer's summary). */
export type ContainerRecord =
  & Pick<ContainerRow, "containerId" | "shard" | "source" | "key" | "state">
  & Partial<
    Pick<
      ContainerRow,
      "size" | "fileCount" | "dataBytes" | "indexCrc32c" | "footerCrc32c" | "compactedFrom"
    >
  >;

/** A file of a container, tied to its parent row. */
export interface PackedFile {
  /** Parent row id. */
  id: string;
  /** DES name (the file name in the container). */
  desName: string;
  /** The parent's location of the original. */
  location: string;
}

/**
 * Record `from → to` for a container under the shard lease, with `facts`
 * (and, when committing, the container's counts added to its shard's
 * progress) in one fenced statement, then tell the transition hook. Throws
 * {@linkcode ContainerMovedError} when the container is no longer in
 * `from`, and `LeaseLostError` when the lease is gone.
 */
export async function advance(
  ctx: PackContext,
  lease: ShardLease,
  containerId: string,
  from: ContainerState,
  to: ContainerState,
  facts: ContainerFacts = {},
  progress?: ShardProgress,
): Promise<void> {
  const attributes = {
    "des.container.id": containerId,
    "des.state.from": from,
    "des.state.to": to,
  };
  await inSpan(`des.packer.step ${to}`, attributes, async () => {
    const { done } = await lease.write((db, fence) =>
      setContainerStateFenced(db, fence, { containerId, from, to, facts, progress })
    );
    if (!done) throw new ContainerMovedError(containerId, from, to);
  });
  ctx.log.debug("container state", { containerId, from, to });
  ctx.onTransition(to, containerId);
}

/**
 * Record `aborted` (with `reason`), then delete the container's objects,
 * big files, incomplete uploads and local files. Its rows stay marked and
 * are packed again.
 */
export async function abortContainer(
  ctx: PackContext,
  lease: ShardLease,
  record: ContainerRecord,
  reason: string,
): Promise<void> {
  await advance(ctx, lease, record.containerId, record.state, "aborted", {
    error: reason.slice(0, 2000),
  });
  ctx.log.warn("container aborted", { containerId: record.containerId, reason });
  await removeContainerObjects(ctx, record);
}

/**
 * Take a container from its current state (uploaded or later) to the end of
 * the pipeline: `sources_released` when originals are deleted, otherwise
 * `parent_updated`. A container written by compaction (`compactedFrom`)
 * commits by replacing its old containers in one transaction (see
 * `compact_switch.ts`), and its parent rows are pointed at it instead of
 * being flipped to packed. `files` is called only when the parent or the originals
 * must be touched. Returns the final state (`aborted` when verification
 * found the upload damaged). Traced as the span `des.packer.complete`.
 */
export function completeContainer(
  ctx: PackContext,
  lease: ShardLease,
  record: ContainerRecord,
  files: () => Promise<PackedFile[]>,
  extra: WriterFacts = {},
): Promise<ContainerState> {
  const attributes = {
    "des.container.id": record.containerId,
    "des.shard": record.shard,
    "des.state.from": record.state,
  };
  return inSpan("des.packer.complete", attributes, async (span) => {
    const state = await completeSteps(ctx, lease, record, files, extra);
    span.setAttribute("des.state.to", state);
    return state;
  });
}

async function completeSteps(
  ctx: PackContext,
  lease: ShardLease,
  record: ContainerRecord,
  files: () => Promise<PackedFile[]>,
  extra: WriterFacts = {},
): Promise<ContainerState> {
  let state = record.state;
  const id = record.containerId;
  if (state === "uploaded") {
    const outcome = await verifyUpload(ctx.store, {
      containerId: id,
      key: record.key,
      size: need(record.size, "size", id),
      fileCount: need(record.fileCount, "fileCount", id),
      indexCrc32c: need(record.indexCrc32c, "indexCrc32c", id),
      footerCrc32c: need(record.footerCrc32c, "footerCrc32c", id),
      ...extra,
    });
    if (!outcome.ok) {
      ctx.metrics.errors.inc({ kind: "verify" });
      await abortContainer(
        ctx,
        lease,
        { ...record, state },
        `verification failed: ${outcome.reason}`,
      );
      return "aborted";
    }
    await advance(ctx, lease, id, state, state = "verified", { etag: outcome.etag });
  }
  if (state === "verified" && record.compactedFrom?.length) {
    const replaced = record.compactedFrom;
    const names = (await files()).map((f) => f.desName);
    if (!await replaceable(ctx, replaced)) {
      await abortContainer(ctx, lease, { ...record, state }, "the containers it replaces moved on");
      return "aborted";
    }
    // The switch: commit, retirement and tombstone moves in one fenced transaction. The
    // retirement locks the old rows, so a delete of a copied big file either committed before
    // (seen here: the switch is called off and the copy aborted) or waits and finds the new
    // container as the holder.
    const calledOff = await fencedTransaction(ctx.db, lease, async (tx) => {
      if (!await setContainerState(tx, id, "verified", "committed")) {
        throw new ContainerMovedError(id, "verified", "committed");
      }
      await retireReplaced(tx, id, replaced);
      const erased = await erasedSinceCopy(tx, replaced, names);
      if (erased.length > 0) throw new SwitchCalledOff(erased);
      await moveTombstones(tx, replaced, id, names);
    }).then(() => undefined, (error) => {
      if (error instanceof SwitchCalledOff) return error;
      throw error;
    });
    if (calledOff) {
      const deleted = calledOff.names.slice(0, 3).join(", ");
      await abortContainer(
        ctx,
        lease,
        { ...record, state },
        `big files it copied were deleted meanwhile: ${deleted}`,
      );
      return "aborted";
    }
    state = "committed";
    ctx.log.debug("container state", { containerId: id, from: "verified", to: state });
    ctx.onTransition(state, id);
  }
  if (state === "verified") {
    const fileCount = need(record.fileCount, "fileCount", id);
    const bytes = record.dataBytes ?? 0;
    await advance(ctx, lease, id, state, state = "committed", {}, { files: fileCount, bytes });
    ctx.metrics.containersCommitted.inc({ source: record.source });
    ctx.metrics.files.inc({ source: record.source }, fileCount);
    ctx.metrics.bytes.inc({ source: record.source }, bytes);
  }
  if (state === "committed") {
    await updateParentRows(ctx, record, await files(), Boolean(record.compactedFrom?.length));
    await advance(ctx, lease, id, state, state = "parent_updated");
  }
  if (state === "parent_updated" && ctx.deleteSources) {
    // A compaction container's originals went with the containers it replaced,
    // which are compacted only once released: nothing is left to release.
    if (!record.compactedFrom?.length) {
      await releaseOriginals(ctx, sourceOf(ctx, record), id, await files());
    }
    await advance(ctx, lease, id, state, state = "sources_released");
  }
  return state;
}

async function updateParentRows(
  ctx: PackContext,
  record: ContainerRecord,
  files: PackedFile[],
  relocate: boolean,
): Promise<void> {
  const source = sourceOf(ctx, record);
  const location = containerLocation(ctx.store.url, record.key);
  const packedAt = new Date();
  let flipped = 0;
  for (let at = 0; at < files.length; at += ctx.parentBatchSize) {
    const batch = files.slice(at, at + ctx.parentBatchSize);
    flipped += relocate
      ? await source.table.repointPacked(batch, location)
      : await source.table.markPacked(batch, location, packedAt);
  }
  ctx.log.debug("parent rows packed", {
    containerId: record.containerId,
    files: files.length,
    flipped,
  });
}

function sourceOf(ctx: PackContext, record: ContainerRecord): PackSource {
  const source = ctx.sources.get(record.source);
  if (!source) {
    throw new DesConfigError(
      `container ${record.containerId} belongs to source "${record.source}", which is not in the sources file`,
      { containerId: record.containerId, source: record.source },
    );
  }
  return source;
}

function need<T>(value: T | null | undefined, what: string, containerId: string): T {
  if (value === null || value === undefined) {
    throw new DesConflictError(`container ${containerId} has no recorded ${what}`, {
      containerId,
      field: what,
    });
  }
  return value;
}

/** Rolls the switch back: the copy holds big files deleted since it was made. */
class SwitchCalledOff extends Error {
  /** @param names the deleted names the copy holds */
  constructor(readonly names: string[]) {
    super(`the copy holds ${names.length} deleted big files`);
    this.name = "SwitchCalledOff";
  }
}
