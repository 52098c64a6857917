/**
 * Deleting the originals of a container whose parent rows are packed
 * (`DES_DELETE_SOURCES=true`). Several parent rows may name the same
 * original; it is deleted only when no row that is not packed still names
 * it (the parent's `location` text compared exactly). An original kept for
 * that reason is logged; the last container that packs a row naming it
 * deletes it.
 *
 * @module
 */

import { forEachConcurrently } from "./bounded_concurrency.ts";
import type { PackedFile } from "./container_steps.ts";
import type { PackContext } from "./pack_context.ts";
import type { PackSource } from "./pack_sources.ts";

/** What {@linkcode releaseOriginals} did. */
export interface ReleaseResult {
  /** Originals deleted (or already gone). */
  deleted: number;
  /** Originals kept because another row still needs them. */
  kept: number;
}

/** Delete the originals of `files` that no unpacked row of `source` still names. */
export async function releaseOriginals(
  ctx: PackContext,
  source: PackSource,
  containerId: string,
  files: readonly PackedFile[],
): Promise<ReleaseResult> {
  const locations = [...new Set(files.map((f) => f.location))];
  const inUse = new Set<string>();
  for (let at = 0; at < locations.length; at += ctx.parentBatchSize) {
    const batch = locations.slice(at, at + ctx.parentBatchSize);
    for (const location of await source.table.locationsInUse(batch)) inUse.add(location);
  }
  for (const location of inUse) {
    ctx.log.info("original kept: another parent row that is not packed yet names it", {
      containerId,
      source: source.config.name,
      location,
    });
  }
  const doomed = locations.filter((location) => !inUse.has(location));
  await forEachConcurrently(
    doomed,
    ctx.deleteConcurrency,
    (location) => source.originals.delete(location),
  );
  return { deleted: doomed.length, kept: inUse.size };
}
