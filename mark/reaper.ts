/**
 * {@linkcode Reaper}: carries out a parent source's deletion rule. It pages
 * through the rows that ask for a delete (`SKIP LOCKED` batches, like the
 * marker), tombstones each new name (from then on it answers 410 Gone),
 * and moves a row to the purged status once its tombstone says the bytes
 * left storage — by whatever erased them (a big file deleted here, a name
 * never packed, compaction deleting the old container). A row whose delete
 * fails moves to the failed status with the reason; the batch goes on.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { type Counter, Registry } from "../core/metrics.ts";
import { inSpan } from "../core/spans.ts";
import type { Db } from "../db/db.ts";
import { markPurged, tombstonesOf } from "../db/tombstones.ts";
import { deleteName, type DeleteOutcome } from "../lifecycle/delete_name.ts";
import { type NameFormat, parseName } from "../naming/mod.ts";
import type {
  DeleteRequestRow,
  DeleteSettlement,
  FailedRow,
  ParentTable,
} from "../parent/parent_table.ts";
import { describeDbError, isTransientDbError } from "../parent/transient.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** Options of a {@linkcode Reaper}. */
export interface ReaperOptions {
  /** The parent table (its source has a deletion rule). */
  table: ParentTable;
  /** The DES metadata DB. */
  db: Db;
  /** The store of a catalog bucket. */
  storeFor: (bucket: string) => ObjectStore;
  /** Shard bits and name prefix: a row's name is checked before anything is written. */
  nameFormat: NameFormat;
  /** Rows per transaction (default 500). */
  batchSize?: number;
  /** Metrics registry (default: a private one). */
  metrics?: Registry;
  /** Logger (default: component `reaper`). */
  logger?: Logger;
  /** Stops `runOnce` between batches. */
  signal?: AbortSignal;
}

/** What one {@linkcode Reaper.runOnce} did. */
export interface ReapResult {
  /** Names tombstoned. */
  tombstoned: number;
  /** Rows moved to purged. */
  purged: number;
  /** Rows moved to failed. */
  failed: number;
  /** Rows still waiting for their bytes to be erased (compaction). */
  waiting: number;
  /** Wall time in seconds. */
  seconds: number;
}

/** Reaps one source. Several reapers may run against one table. */
export class Reaper {
  readonly #o: ReaperOptions;
  readonly #log: Logger;
  readonly #labels: { source: string };
  readonly #tombstoned: Counter;
  readonly #purged: Counter;
  readonly #failed: Counter;

  /** @param options table, metadata DB, stores, name format, batch size, metrics, logger */
  constructor(options: ReaperOptions) {
    this.#o = options;
    const source = options.table.source.name;
    this.#labels = { source };
    this.#log = (options.logger ?? new Logger("reaper")).child({ source });
    const m = options.metrics ?? new Registry();
    this.#tombstoned = m.counter(
      "des_reaper_names_tombstoned_total",
      "Names tombstoned by the parent's deletion rule",
    );
    this.#purged = m.counter("des_reaper_rows_purged_total", "Parent rows moved to purged");
    this.#failed = m.counter(
      "des_reaper_rows_failed_total",
      "Parent rows moved to failed because their delete failed",
    );
  }

  /**
   * One pass over every row that asks for a delete. A transient failure
   * (database or store unreachable) rolls its batch back and is thrown.
   */
  async runOnce(): Promise<ReapResult> {
    const started = performance.now();
    const result: ReapResult = { tombstoned: 0, purged: 0, failed: 0, waiting: 0, seconds: 0 };
    const limit = this.#o.batchSize ?? 500;
    let after = "";
    while (!this.#o.signal?.aborted) {
      const batch = await inSpan(
        "des.reaper.batch",
        { "des.source": this.#labels.source },
        () =>
          this.#o.table.settleDeleteRequests(after, limit, (rows) => this.#settle(rows, result)),
      );
      result.purged += batch.purged;
      result.failed += batch.failed;
      if (batch.purged > 0) this.#purged.inc(this.#labels, batch.purged);
      if (batch.failed > 0) this.#failed.inc(this.#labels, batch.failed);
      if (batch.rows < limit || batch.lastName === undefined) break;
      after = batch.lastName;
    }
    result.seconds = (performance.now() - started) / 1000;
    if (result.tombstoned + result.purged + result.failed > 0) {
      this.#log.info("reaping run finished", { ...result });
    }
    return result;
  }

  async #settle(rows: DeleteRequestRow[], result: ReapResult): Promise<DeleteSettlement> {
    const stones = await tombstonesOf(this.#o.db, rows.map((r) => r.desName));
    const erased: DeleteRequestRow[] = [];
    const failed: FailedRow[] = [];
    for (const row of rows) {
      const stone = stones.get(row.desName);
      if (stone) {
        if (stone.erasedAt) erased.push(row);
        else result.waiting += 1;
        continue;
      }
      try {
        const outcome = await this.#delete(row);
        if (outcome.kind === "deleted") {
          result.tombstoned += 1;
          this.#tombstoned.inc(this.#labels);
        }
        // Only an erasure seen here purges the row; anything else waits for a later pass.
        if (outcome.kind === "deleted" && outcome.erased) erased.push(row);
        else result.waiting += 1;
      } catch (error) {
        if (isTransientDbError(error)) throw error;
        const reason = `delete failed: ${describeDbError(error)}`;
        failed.push({ id: row.id, reason });
        this.#log.error("row moved to the failed status", { id: row.id, reason });
      }
    }
    // Recorded before the parent rows move (same parent transaction): a crash in between
    // leaves the rows deleted, and the next pass purges them again.
    await markPurged(this.#o.db, erased.map((r) => r.desName));
    return { purged: erased, failed };
  }

  #delete(row: DeleteRequestRow): Promise<DeleteOutcome> {
    const { shard } = parseName(row.desName, this.#o.nameFormat);
    if (shard !== row.shard) {
      throw new DesInputError(`the row's shard ${row.shard} is not the name's shard ${shard}`, {
        name: row.desName,
      });
    }
    return deleteName(this.#o, {
      name: row.desName,
      shard,
      origin: "parent",
      actor: this.#o.table.source.name,
      notStored: "tombstone",
    });
  }
}
