/**
 * {@linkcode Repairer}: restores damaged files from the parent's originals.
 * For each damaged file it reads the original at the location recorded in
 * the file's meta record and compares its SHA-256 (and size) with the
 * checksum recorded in the damaged container's index: a repair never writes
 * different bytes. Good originals of one container go into one new small
 * container of the same shard through the packer's write-ahead path
 * (`building` → … → `parent_updated`, under the shard lease); the parent
 * rows are pointed at it and each record becomes `repaired`. Retrievers
 * check the newest committed container first, so the good copy wins. A
 * missing or different original makes the record `lost`.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import { settleDamagedFile } from "../db/damaged_files.ts";
import type { ScrubCandidate } from "../db/scrub_results.ts";
import { bytesEqual, toHex } from "../format/binary.ts";
import { sha256 } from "../format/checksum.ts";
import type { DesReader } from "../format/reader.ts";
import { type BuildOptions, ContainerBuild } from "../pack/container_build.ts";
import { PARENT_ID_ATTR } from "../pack/container_files.ts";
import { completeContainer } from "../pack/container_steps.ts";
import { containerLocation } from "../pack/layout.ts";
import {
  DEFAULT_READ_BOUNDS,
  isPermanentReadError,
  originalReader,
  type ReadBounds,
} from "../pack/original_reader.ts";
import type { PackContext } from "../pack/pack_context.ts";
import { ShardLease } from "../pack/shard_lease.ts";
import type { OriginalFile } from "../parent/originals.ts";
import type { ParentRow } from "../parent/parent_table.ts";
import type { Repair, RepairOutcome } from "./scrubber.ts";

/** Options of a {@linkcode Repairer}. */
export interface RepairOptions {
  /** Lease length in ms (default 30 000). */
  leaseMs?: number;
  /** Files above this size become `_bigFiles/` objects (default 16 MiB). */
  bigFileThreshold?: number;
  /** Timeout and retries of each original's read. */
  readBounds?: ReadBounds;
}

interface GoodCopy {
  row: ParentRow;
  file: OriginalFile;
}

/** Restores damaged files from their originals (see the module documentation). */
export class Repairer implements Repair {
  readonly #ctx: PackContext;
  readonly #leaseMs: number;
  readonly #build: BuildOptions;
  readonly #bounds: ReadBounds;

  /** @param ctx the packer's context (catalog, store, sources, owner) @param options limits */
  constructor(ctx: PackContext, options: RepairOptions = {}) {
    this.#ctx = ctx;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#build = {
      bigFileThreshold: options.bigFileThreshold ?? 16 * 1024 * 1024,
      streamUpload: false,
    };
    this.#bounds = options.readBounds ?? DEFAULT_READ_BOUNDS;
  }

  /** Repair `names` of `container` (read through `reader`) under the shard's lease. */
  async repair(
    container: ScrubCandidate,
    reader: DesReader,
    names: readonly string[],
  ): Promise<RepairOutcome[]> {
    const source = this.#ctx.sources.get(container.source);
    if (!source) {
      throw new DesConfigError(
        `container ${container.containerId} belongs to source "${container.source}", which is not in the sources file`,
        { source: container.source },
      );
    }
    const claim = await ShardLease.tryClaim(this.#ctx.db, {
      shard: container.shard,
      owner: this.#ctx.owner,
      leaseMs: this.#leaseMs,
      log: this.#ctx.log,
    });
    if (!claim) {
      return names.map((name) => ({
        name,
        outcome: "deferred" as const,
        note: `shard ${container.shard} is leased by another worker`,
      }));
    }
    const { lease } = claim;
    try {
      const read = originalReader(source.originals, this.#bounds);
      const outcomes: RepairOutcome[] = [];
      const good: GoodCopy[] = [];
      for (const name of names) {
        const checked = await this.#checkOriginal(reader, name, container.shard, read);
        if ("lost" in checked) {
          outcomes.push(await this.#settleLost(container, name, checked.lost));
        } else if ("deferred" in checked) {
          outcomes.push({ name, outcome: "deferred", note: checked.deferred });
        } else {
          good.push(checked);
        }
      }
      if (good.length === 0) return outcomes;
      const build = await ContainerBuild.start(this.#ctx, lease, source.config.name, this.#build);
      for (const g of good.sort((a, b) => (a.row.desName < b.row.desName ? -1 : 1))) {
        await build.add(g.row, g.file);
      }
      const uploaded = await build.finishAndUpload();
      const state = await completeContainer(
        this.#ctx,
        lease,
        uploaded.record,
        () => Promise.resolve(build.files),
        uploaded.check,
      );
      if (state === "aborted") {
        return [
          ...outcomes,
          ...good.map((g) => ({
            name: g.row.desName,
            outcome: "deferred" as const,
            note: "the repair container failed verification",
          })),
        ];
      }
      const location = containerLocation(this.#ctx.store.url, uploaded.record.key);
      await source.table.repointPacked(build.files, location);
      for (const g of good) {
        const note = `repaired from ${g.row.location} into ${build.containerId}`;
        await settleDamagedFile(this.#ctx.db, {
          name: g.row.desName,
          containerId: container.containerId,
        }, {
          state: "repaired",
          repairedContainerId: build.containerId,
          note,
        });
        outcomes.push({
          name: g.row.desName,
          outcome: "repaired",
          repairedContainerId: build.containerId,
          note,
        });
      }
      this.#ctx.log.info("damaged files repaired", {
        containerId: container.containerId,
        repairedContainerId: build.containerId,
        files: good.length,
      });
      return outcomes;
    } finally {
      await lease.release();
    }
  }

  /** The original of `name` when it matches the index, or why it cannot be used. */
  async #checkOriginal(
    reader: DesReader,
    name: string,
    shard: number,
    read: (location: string) => Promise<OriginalFile>,
  ): Promise<GoodCopy | { lost: string } | { deferred: string }> {
    const entry = reader.find(name);
    if (!entry) return { lost: "the name is no longer in the container's index" };
    let meta;
    try {
      meta = reader.meta(entry);
    } catch (error) {
      return { lost: `its meta record is unreadable: ${(error as Error).message}` };
    }
    const id = meta.attrs?.[PARENT_ID_ATTR];
    const location = meta.originalLocation;
    if (id === undefined || location === undefined) {
      return { lost: "its meta record names no parent row or original location" };
    }
    let file: OriginalFile;
    try {
      file = await read(location);
    } catch (error) {
      if (isPermanentReadError(error)) {
        return { lost: `original ${location} cannot be read: ${(error as Error).message}` };
      }
      return { deferred: `original ${location} is unavailable: ${(error as Error).message}` };
    }
    const bytes = file.body;
    const digest = sha256(bytes);
    if (bytes.byteLength !== entry.size || !bytesEqual(digest, entry.sha256)) {
      return {
        lost: `original ${location} differs from the recorded file ` +
          `(sha256 ${toHex(digest)}, ${bytes.byteLength} bytes; ` +
          `expected ${toHex(entry.sha256)}, ${entry.size} bytes)`,
      };
    }
    return {
      row: {
        id,
        location,
        desName: name,
        shard,
        contentType: meta.contentType,
        createdAt: new Date(),
      },
      file,
    };
  }

  async #settleLost(container: ScrubCandidate, name: string, note: string): Promise<RepairOutcome> {
    await settleDamagedFile(this.#ctx.db, { name, containerId: container.containerId }, {
      state: "lost",
      note,
    });
    this.#ctx.log.error("damaged file lost: no original with the recorded checksum", {
      containerId: container.containerId,
      name,
      note,
    });
    return { name, outcome: "lost", note };
  }
}
