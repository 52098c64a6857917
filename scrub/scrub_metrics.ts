/**
 * The scrubber's Prometheus metrics (`des_scrub_*`).
 *
 * @module
 */

import { type Counter, type Gauge, Registry } from "../core/metrics.ts";

/** Every metric the scrubber updates. */
export class ScrubMetrics {
  /** Container and big-file bytes read and checked. */
  readonly bytes: Counter;
  /** Containers scrubbed, by result (`ok`, `damaged`, `error`). */
  readonly containers: Counter;
  /** Damaged files found (new records). */
  readonly damagedFiles: Counter;
  /** Repairs, by outcome (`repaired`, `lost`, `deferred`). */
  readonly repairs: Counter;
  /** Unix time (s) at which the last full pass over the range ended. */
  readonly lastPassEnd: Gauge;
  /** Seconds the last full pass took. */
  readonly lastPassSeconds: Gauge;
  /** Share of the current pass done (0–1). */
  readonly passProgress: Gauge;
  /** Damaged files not repaired, by state (`damaged`, `lost`), at the end of the last pass. */
  readonly unrepaired: Gauge;

  /** @param registry where the metrics live (default: a private registry) */
  constructor(readonly registry: Registry = new Registry()) {
    this.bytes = registry.counter(
      "des_scrub_bytes_total",
      "Bytes read and checked by the scrubber",
    );
    this.containers = registry.counter(
      "des_scrub_containers_total",
      "Containers scrubbed, by result (ok, damaged, error)",
    );
    this.damagedFiles = registry.counter(
      "des_scrub_damaged_files_total",
      "Damaged files found by the scrubber",
    );
    this.repairs = registry.counter(
      "des_scrub_repairs_total",
      "Repairs of damaged files, by outcome (repaired, lost, deferred)",
    );
    this.lastPassEnd = registry.gauge(
      "des_scrub_last_full_pass_timestamp_seconds",
      "Unix time at which the last full scrub pass over the range ended",
    );
    this.lastPassSeconds = registry.gauge(
      "des_scrub_last_full_pass_seconds",
      "Duration of the last full scrub pass",
    );
    this.passProgress = registry.gauge(
      "des_scrub_pass_progress_ratio",
      "Share of the containers of the current pass scrubbed (0-1)",
    );
    this.unrepaired = registry.gauge(
      "des_scrub_unrepaired_files",
      "Damaged files not repaired, by state (damaged, lost), at the end of the last pass",
    );
  }
}
