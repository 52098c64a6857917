/**
 * {@linkcode Scrubber}: finds silent corruption before a reader does. A pass
 * walks the visible containers of a shard range, never scrubbed first, then
 * the longest unscrubbed, reads each whole at a bounded byte rate, checks
 * its structure and every file's CRC-32C and SHA-256 (`format/verify.ts`),
 * records the result per container, records each damaged file (retrievers
 * stop serving it at once) and, when a repairer is given, writes a good copy
 * from the parent's original. See docs/lifecycle.md, "Scrubbing".
 *
 * @module
 */

import { Logger } from "../core/log.ts";
import { countDamagedFiles, listDamagedFiles, recordDamagedFile } from "../db/damaged_files.ts";
import type { Db } from "../db/db.ts";
import { containersToScrub, recordScrubResult, type ScrubCandidate } from "../db/scrub_results.ts";
import { DesReader } from "../format/reader.ts";
import { type BadFile, VERIFY_CHUNK_BYTES, verifyContainer } from "../format/verify.ts";
import type { ShardRange } from "../naming/shard_range.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { ScrubMetrics } from "./scrub_metrics.ts";
import { ThrottledBigFiles, ThrottledSource } from "./throttled_source.ts";
import { TokenBucket } from "./token_bucket.ts";

/** Repairs the damaged files of one container (see `repair.ts`). */
export interface Repair {
  /** Try to repair `names` of `container`, read through `reader`; returns the outcomes. */
  repair(
    container: ScrubCandidate,
    reader: DesReader,
    names: readonly string[],
  ): Promise<RepairOutcome[]>;
}

/** What became of one damaged file. */
export interface RepairOutcome {
  /** The DES name. */
  name: string;
  /** `deferred`: nothing decided yet (shard busy, source unknown); the next pass tries again. */
  outcome: "repaired" | "lost" | "deferred";
  /** Container of the good copy, when repaired. */
  repairedContainerId?: string;
  /** Why. */
  note: string;
}

/** Options of a {@linkcode Scrubber}. */
export interface ScrubberOptions {
  /** DES metadata database (migrated). */
  db: Db;
  /** Store of a catalog bucket. */
  storeFor: (bucket: string) => ObjectStore;
  /** Shards scrubbed. */
  range: ShardRange;
  /** Bytes per second read at most (default: unbounded). */
  rateBytesPerSecond?: number;
  /** Writes good copies of damaged files; omitted = find and record only. */
  repair?: Repair;
  /** Metrics (default: a private registry). */
  metrics?: ScrubMetrics;
  /** Logger (default: component `scrub`). */
  logger?: Logger;
  /** Stops the pass between containers and cuts rate waits short. */
  signal?: AbortSignal;
  /** Size of each sequential read (default 8 MiB, at most one second of the rate). */
  chunkBytes?: number;
}

/** What one container's scrub found. */
export interface ContainerScrub {
  /** The container. */
  container: ScrubCandidate;
  /** Every check passed. */
  ok: boolean;
  /** Bytes read. */
  bytes: number;
  /** Damaged files. */
  badFiles: BadFile[];
  /** Structural problems, or why it could not be read. */
  error?: string;
  /** What repair did, per damaged file. */
  repairs: RepairOutcome[];
}

/** What one pass did. */
export interface ScrubPass {
  /** Containers scrubbed. */
  containers: number;
  /** Of those, with every check passed. */
  ok: number;
  /** Bytes read. */
  bytes: number;
  /** Damaged files found. */
  damagedFiles: number;
  /** Containers that could not be read or have structural problems. */
  errors: number;
  /** Damaged files repaired, found lost, or left for the next pass. */
  repaired: number;
  /** See `repaired`. */
  lost: number;
  /** See `repaired`. */
  deferred: number;
  /** Wall time in seconds. */
  seconds: number;
}

/** Containers fetched per catalog query of a pass. */
const PAGE = 100;

/** Scrubs the containers of a shard range. */
export class Scrubber {
  /** The metrics this scrubber updates. */
  readonly metrics: ScrubMetrics;
  readonly #o: ScrubberOptions;
  readonly #log: Logger;
  readonly #bucket?: TokenBucket;
  readonly #chunkBytes: number;

  /** @param options database, stores, range, rate, repair and observers */
  constructor(options: ScrubberOptions) {
    this.#o = options;
    this.metrics = options.metrics ?? new ScrubMetrics();
    this.#log = options.logger ?? new Logger("scrub");
    const rate = options.rateBytesPerSecond;
    const chunk = options.chunkBytes ?? VERIFY_CHUNK_BYTES;
    this.#chunkBytes = rate ? Math.max(64 * 1024, Math.min(chunk, Math.floor(rate))) : chunk;
    // The bucket saves up at most one chunk, so a pass never runs ahead of the rate by more.
    if (rate) this.#bucket = new TokenBucket(rate, this.#chunkBytes);
  }

  /**
   * Scrub every visible container of the range once, never scrubbed first,
   * then the longest unscrubbed; containers committed during the pass are
   * included. Stops early when the signal aborts.
   */
  async runPass(): Promise<ScrubPass> {
    const started = performance.now();
    const pass: ScrubPass = {
      containers: 0,
      ok: 0,
      bytes: 0,
      damagedFiles: 0,
      errors: 0,
      repaired: 0,
      lost: 0,
      deferred: 0,
      seconds: 0,
    };
    const [{ now: passStart }] = await this.#o.db.query<{ now: Date }>("select now() as now");
    const { start, end } = this.#o.range;
    let total = 0;
    this.metrics.passProgress.set(0);
    for (;;) {
      if (this.#o.signal?.aborted) break;
      const page = await containersToScrub(this.#o.db, {
        start,
        end,
        limit: PAGE,
        before: passStart,
      });
      if (page.length === 0) break;
      total = Math.max(total, pass.containers + page.length);
      for (const container of page) {
        if (this.#o.signal?.aborted) break;
        add(pass, await this.scrubContainer(container));
        this.metrics.passProgress.set(pass.containers / Math.max(total, pass.containers));
      }
    }
    pass.seconds = (performance.now() - started) / 1000;
    if (!this.#o.signal?.aborted) {
      this.metrics.passProgress.set(1);
      this.metrics.lastPassEnd.set(Date.now() / 1000);
      this.metrics.lastPassSeconds.set(pass.seconds);
    }
    await this.#countUnrepaired();
    this.#log.info("scrub pass finished", { ...pass });
    return pass;
  }

  /** Scrub one container: read and check it, record the result and its damaged files, repair. */
  async scrubContainer(container: ScrubCandidate): Promise<ContainerScrub> {
    const store = this.#o.storeFor(container.bucket);
    const signal = this.#o.signal;
    const plain = new StoreRangeSource(store, container.key);
    const source = this.#bucket ? new ThrottledSource(plain, this.#bucket, signal) : plain;
    const bigFiles = this.#bucket ? new ThrottledBigFiles(store, this.#bucket, signal) : store;
    const result: ContainerScrub = { container, ok: false, bytes: 0, badFiles: [], repairs: [] };
    let reader: DesReader | undefined;
    let filesChecked = 0;
    try {
      reader = await DesReader.open(source, { bigFiles });
      let counted = 0;
      const report = await verifyContainer(reader, (p) => {
        this.metrics.bytes.inc({}, p.bytesDone - counted);
        counted = p.bytesDone;
      }, this.#chunkBytes);
      result.bytes = report.bytesChecked + reader.tail.byteLength;
      this.metrics.bytes.inc({}, report.bytesChecked - counted + reader.tail.byteLength);
      filesChecked = report.filesChecked;
      result.badFiles = report.badFiles;
      if (report.problems.length > 0) result.error = report.problems.join("; ");
      if (report.externalSkipped.length > 0) {
        result.error = [result.error, `${report.externalSkipped.length} big files not checked`]
          .filter(Boolean).join("; ");
      }
      result.ok = report.ok && report.externalSkipped.length === 0;
    } catch (error) {
      result.error = `could not read the container: ${(error as Error).message ?? error}`;
    }
    for (const bad of result.badFiles) {
      const values = bad.expected ? ` (expected ${bad.expected}, got ${bad.actual})` : "";
      const fresh = await recordDamagedFile(this.#o.db, {
        name: bad.name,
        shard: container.shard,
        containerId: container.containerId,
        detail: `${bad.reason}${values}`,
      });
      if (fresh) this.metrics.damagedFiles.inc();
    }
    await recordScrubResult(this.#o.db, {
      containerId: container.containerId,
      ok: result.ok,
      bytes: result.bytes,
      filesChecked,
      badFiles: result.badFiles.length,
      error: result.error,
    });
    const verdict = result.ok ? "ok" : result.badFiles.length > 0 ? "damaged" : "error";
    this.metrics.containers.inc({ result: verdict });
    if (!result.ok) {
      this.#log.error("scrub found a damaged container", {
        containerId: container.containerId,
        key: container.key,
        badFiles: result.badFiles.map((b) => b.name),
        error: result.error,
      });
    }
    if (reader && this.#o.repair) await this.#repair(result, reader);
    return result;
  }

  /** Repair the container's damaged files still recorded as damaged. */
  async #repair(result: ContainerScrub, reader: DesReader): Promise<void> {
    const pending = new Set(
      (await listDamagedFiles(this.#o.db, {
        states: ["damaged"],
        containerId: result.container.containerId,
      })).map((f) => f.name),
    );
    if (pending.size === 0) return;
    try {
      result.repairs = await this.#o.repair!.repair(result.container, reader, [...pending]);
    } catch (error) {
      this.#log.warn("repair failed; the next pass tries again", {
        containerId: result.container.containerId,
        error: error as Error,
      });
      result.repairs = [...pending].map((name) => ({
        name,
        outcome: "deferred",
        note: (error as Error).message,
      }));
    }
    for (const r of result.repairs) this.metrics.repairs.inc({ outcome: r.outcome });
  }

  async #countUnrepaired(): Promise<void> {
    try {
      const counts = await countDamagedFiles(this.#o.db);
      for (const state of ["damaged", "lost"] as const) {
        this.metrics.unrepaired.set(counts[state], { state });
      }
    } catch (error) {
      this.#log.warn("could not count damaged files", { error: error as Error });
    }
  }
}

function add(pass: ScrubPass, c: ContainerScrub): void {
  pass.containers++;
  if (c.ok) pass.ok++;
  if (c.error) pass.errors++;
  pass.bytes += c.bytes;
  pass.damagedFiles += c.badFiles.length;
  for (const r of c.repairs) pass[r.outcome]++;
}
