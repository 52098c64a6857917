/**
 * The packer's Prometheus metrics.
 *
 * @module
 */

import { type Counter, type Gauge, type Histogram, Registry } from "../core/metrics.ts";

/** Buckets of `des_packer_container_seconds` (one container: 50 ms … 10 min). */
export const CONTAINER_SECONDS_BUCKETS = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
];

/** Every metric the packer updates. */
export class PackerMetrics {
  /** Files packed into committed containers, by source. */
  readonly files: Counter;
  /** Bytes of file content packed into committed containers, by source. */
  readonly bytes: Counter;
  /** Containers committed, by source. */
  readonly containersCommitted: Counter;
  /** Failures, by kind. */
  readonly errors: Counter;
  /** Time from the first file of a container to its last write-ahead step. */
  readonly containerSeconds: Histogram;
  /** Parent rows marked but not packed yet, by source (measured before and after each run). */
  readonly backlog: Gauge;

  /** @param registry where the metrics live (default: a private registry) */
  constructor(readonly registry: Registry = new Registry()) {
    this.files = registry.counter(
      "des_packer_files_total",
      "Files packed into committed containers",
    );
    this.bytes = registry.counter(
      "des_packer_bytes_total",
      "Bytes of file content packed into committed containers",
    );
    this.containersCommitted = registry.counter(
      "des_packer_containers_committed_total",
      "Containers committed to the catalog",
    );
    this.errors = registry.counter(
      "des_packer_errors_total",
      "Packer failures by kind (missing_original, upload, verify, shard, recover, lease)",
    );
    this.backlog = registry.gauge(
      "des_packer_backlog_rows",
      "Parent rows marked but not packed yet, by source (measured before and after each run)",
    );
    this.containerSeconds = registry.histogram(
      "des_packer_container_seconds",
      "Seconds to build, upload, verify, commit and record one container",
      CONTAINER_SECONDS_BUCKETS,
    );
  }
}
