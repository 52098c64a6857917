/**
 * The compactor's Prometheus metrics.
 *
 * @module
 */

import { type Counter, type Gauge, Registry } from "../core/metrics.ts";

/** Every metric the compactor updates. */
export class CompactMetrics {
  /** Containers replaced (or retired with every file dead). */
  readonly compacted: Counter;
  /** Merges of small containers into one. */
  readonly merges: Counter;
  /** Object bytes given back: old object size minus its replacement's. */
  readonly reclaimedBytes: Counter;
  /** Retired objects deleted after the grace period. */
  readonly objectsDeleted: Counter;
  /** Tombstones whose bytes left storage with those deletions. */
  readonly erased: Counter;
  /** Failures, by kind (compact, expire, claim). */
  readonly failures: Counter;
  /** 1 while a compaction run is in progress. */
  readonly running: Gauge;
  /** Dead bytes / data bytes over the visible containers of the range (after each run). */
  readonly deadRatio: Gauge;
  /** Visible containers over the threshold, waiting for compaction (after each run). */
  readonly pending: Gauge;

  /** @param registry where the metrics live (default: a private registry) */
  constructor(readonly registry: Registry = new Registry()) {
    this.compacted = registry.counter(
      "des_compact_containers_total",
      "Containers replaced by compaction, or retired because every file was deleted",
    );
    this.merges = registry.counter(
      "des_compact_merges_total",
      "Merges of small containers of one shard into one (DES_COMPACT_MERGE_BELOW)",
    );
    this.reclaimedBytes = registry.counter(
      "des_compact_reclaimed_bytes_total",
      "Object bytes given back by compaction (old size minus the replacement's)",
    );
    this.objectsDeleted = registry.counter(
      "des_compact_objects_deleted_total",
      "Retired container objects deleted after the grace period",
    );
    this.erased = registry.counter(
      "des_compact_erased_total",
      "Deleted files whose last stored copy was deleted (tombstones marked erased)",
    );
    this.failures = registry.counter(
      "des_compact_failures_total",
      "Compaction failures by kind (compact, expire, claim)",
    );
    this.running = registry.gauge("des_compact_running", "1 while a compaction run is in progress");
    this.deadRatio = registry.gauge(
      "des_compact_dead_ratio",
      "Dead bytes / data bytes over the visible containers of the compactor's shard range",
    );
    this.pending = registry.gauge(
      "des_compact_pending_containers",
      "Visible containers whose dead-byte ratio exceeds the threshold",
    );
  }
}
