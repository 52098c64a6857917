/**
 * {@linkcode Marker}: marks a parent source's eligible rows in batches until
 * none are left, retrying transient database failures with backoff and
 * moving rows that keep failing to the failed status with their reason.
 *
 * @module
 */

import { SETTINGS } from "../core/config.ts";
import { Logger } from "../core/log.ts";
import { inSpan } from "../core/spans.ts";
import { type Counter, type Histogram, Registry } from "../core/metrics.ts";
import type { NameGenerator } from "../naming/name_generator.ts";
import type { FailedRow, ParentTable } from "../parent/parent_table.ts";
import { describeDbError, isTransientDbError } from "../parent/transient.ts";
import { backoffDelay, type BackoffPolicy, sleep } from "./backoff.ts";

/** Options of a {@linkcode Marker}. */
export interface MarkerOptions {
  /** The parent table to mark. */
  table: ParentTable;
  /** Hands out names (one generator per node id). */
  names: NameGenerator;
  /** Rows per transaction (default `DES_MARKER_BATCH_SIZE`'s default, 5000). */
  batchSize?: number;
  /**
   * Batches in flight at once, each in its own transaction (default 3). While
   * one batch waits for the database the next one is being named and selected.
   */
  concurrency?: number;
  /** Eligible age in days (default: the source's `max_age_days`). */
  maxAgeDays?: number;
  /** Retries of a transient failure (lost connection, deadlock) before giving up (default 5). */
  transientRetries?: number;
  /** Tries of a batch that fails otherwise before its bad rows are isolated (default 3). */
  failingTries?: number;
  /** Backoff between retries. */
  backoff?: BackoffPolicy;
  /** Metrics registry (default: a private one). */
  metrics?: Registry;
  /** Logger (default: component `marker`). */
  logger?: Logger;
  /** The current time (default: now), read once per batch. */
  now?: () => Date;
  /** Called after each batch with the rows it marked and failed. */
  onBatch?: (marked: number, failed: number) => void;
  /** Stops `runOnce` between batches and cuts backoff sleeps short. */
  signal?: AbortSignal;
}

/** What one {@linkcode Marker.runOnce} did. */
export interface MarkRunResult {
  /** Rows marked. */
  marked: number;
  /** Rows moved to the failed status. */
  failed: number;
  /** Batches committed. */
  batches: number;
  /** Retried attempts (transient and failing). */
  retries: number;
  /** Wall time in seconds. */
  seconds: number;
}

const DEFAULT_BATCH = Number(SETTINGS.markerBatchSize.defaultValue ?? 5000);

/** Marks one source. Several markers (processes or instances) may run against one table. */
export class Marker {
  readonly #o: MarkerOptions;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #log: Logger;
  readonly #labels: { source: string };
  readonly #markedTotal: Counter;
  readonly #failedTotal: Counter;
  readonly #errorsTotal: Counter;
  readonly #batchSeconds: Histogram;

  /** @param options table, names, batch size, retry policy, metrics and logger */
  constructor(options: MarkerOptions) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? DEFAULT_BATCH;
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 3));
    const source = options.table.source.name;
    this.#labels = { source };
    this.#log = (options.logger ?? new Logger("marker")).child({ source });
    const m = options.metrics ?? new Registry();
    this.#markedTotal = m.counter("des_marker_rows_marked_total", "Parent rows marked for packing");
    this.#failedTotal = m.counter(
      "des_marker_rows_failed_total",
      "Parent rows moved to the failed status by the marker",
    );
    this.#errorsTotal = m.counter(
      "des_marker_errors_total",
      "Failed marking attempts, by kind (transient or permanent)",
    );
    this.#batchSeconds = m.histogram("des_marker_batch_seconds", "Time per marking transaction");
  }

  /**
   * Mark batches until no eligible, unlocked row is left (or the signal
   * aborts). If a batch fails for good, the batches in flight finish and the
   * error is thrown.
   */
  async runOnce(): Promise<MarkRunResult> {
    const started = performance.now();
    const result: MarkRunResult = { marked: 0, failed: 0, batches: 0, retries: 0, seconds: 0 };
    const failure: { error?: unknown } = {};
    const worker = async () => {
      while (!this.#o.signal?.aborted && !("error" in failure)) {
        let batch;
        try {
          batch = await inSpan(
            "des.marker.batch",
            { "des.source": this.#labels.source },
            async (span) => {
              const done = await this.#markOneBatch(result);
              span.setAttributes({ "des.marked": done.marked, "des.failed": done.failed.length });
              return done;
            },
          );
        } catch (err) {
          if (!("error" in failure)) failure.error = err;
          return;
        }
        result.marked += batch.marked;
        result.failed += batch.failed.length;
        if (batch.marked + batch.failed.length > 0) result.batches++;
        this.#o.onBatch?.(batch.marked, batch.failed.length);
        if (batch.marked + batch.failed.length < this.#batchSize) return;
      }
    };
    await Promise.all(Array.from({ length: this.#concurrency }, worker));
    result.seconds = (performance.now() - started) / 1000;
    if ("error" in failure) {
      this.#log.error("marking run failed", { ...result, error: failure.error as Error });
      throw failure.error;
    }
    this.#log.info("marking run finished", { ...result });
    return result;
  }

  async #markOneBatch(result: MarkRunResult): Promise<{ marked: number; failed: FailedRow[] }> {
    const maxTransient = this.#o.transientRetries ?? 5;
    const maxFailing = this.#o.failingTries ?? 3;
    let transient = 0;
    let failing = 0;
    for (;;) {
      const isolate = failing >= maxFailing;
      const options = {
        names: this.#o.names,
        limit: this.#batchSize,
        maxAgeDays: this.#o.maxAgeDays,
        now: this.#o.now?.(),
      };
      const stop = this.#batchSeconds.startTimer(this.#labels);
      try {
        const batch = isolate
          ? await this.#o.table.markBatchIsolating(options)
          : { marked: await this.#o.table.markBatch(options), failed: [] };
        stop({ outcome: batch.failed.length > 0 ? "isolated" : "ok" });
        this.#record(batch);
        return batch;
      } catch (err) {
        stop({ outcome: "error" });
        const kind = isTransientDbError(err) ? "transient" : "permanent";
        this.#errorsTotal.inc({ ...this.#labels, kind });
        if (kind === "transient" ? ++transient > maxTransient : isolate) throw err;
        if (kind === "permanent") failing++;
        result.retries++;
        const delay = backoffDelay(kind === "transient" ? transient : failing, this.#o.backoff);
        this.#log.warn("marking batch failed; retrying", {
          kind,
          attempt: kind === "transient" ? transient : failing,
          delayMs: delay,
          isolateNext: failing >= maxFailing,
          error: describeDbError(err),
        });
        await sleep(delay, this.#o.signal);
        if (this.#o.signal?.aborted) return { marked: 0, failed: [] };
      }
    }
  }

  #record(batch: { marked: number; failed: FailedRow[] }): void {
    if (batch.marked > 0) this.#markedTotal.inc(this.#labels, batch.marked);
    if (batch.failed.length > 0) this.#failedTotal.inc(this.#labels, batch.failed.length);
    for (const row of batch.failed) {
      this.#log.error("row moved to the failed status", { id: row.id, reason: row.reason });
    }
    this.#log.debug("batch marked", { marked: batch.marked, failed: batch.failed.length });
  }
}
