/**
 * Prometheus metrics of a retriever.
 *
 * @module
 */

import {
  type Counter,
  type CounterSeries,
  type Gauge,
  type Histogram,
  type HistogramSeries,
  Registry,
} from "../core/metrics.ts";

/** The retriever's metric set, registered in one {@linkcode Registry}. */
export class RetrieverMetrics {
  /** The registry served at `/metrics`. */
  readonly registry: Registry;
  /** Reads by method, kind (`file`/`meta`) and status. */
  readonly reads: Counter;
  /** Seconds from request to response headers, by method and kind. */
  readonly latency: Histogram;
  /** S3 requests made per read (index opens + data GET). */
  readonly s3RequestsPerRead: Histogram;
  /** Bytes of file content sent. */
  readonly bytes: Counter;
  /** Container opens by tier that answered: memory, kv, s3. */
  readonly indexLookups: Counter;
  /** Object versions that changed under a reader (412 from S3), followed by a reopen. */
  readonly conflicts: Counter;
  /** Bodies that failed while streaming (short read, checksum). */
  readonly streamErrors: Counter;
  /** Containers in the in-memory catalog. */
  readonly catalogContainers: Gauge;
  /** Readers and tail bytes held in memory. */
  readonly memoryReaders: Gauge;
  /** Tail bytes held in memory. */
  readonly memoryBytes: Gauge;
  /** Names of the owned shards not served because a copy is damaged or lost. */
  readonly damagedNames: Gauge;

  /** @param registry registry to add to (default: a new one) */
  constructor(registry = new Registry()) {
    this.registry = registry;
    this.reads = registry.counter("des_retriever_reads_total", "Reads by method, kind and status");
    this.latency = registry.histogram(
      "des_retriever_read_seconds",
      "Seconds from request to response headers",
    );
    this.s3RequestsPerRead = registry.histogram(
      "des_retriever_s3_requests_per_read",
      "S3 requests made by one read (index opens plus the data range GET)",
      [0, 1, 2, 3, 5, 10],
    );
    this.bytes = registry.counter("des_retriever_bytes_total", "Bytes of file content sent");
    this.indexLookups = registry.counter(
      "des_retriever_index_lookups_total",
      "Container index lookups by the tier that answered (memory, kv, s3)",
    );
    this.conflicts = registry.counter(
      "des_retriever_object_conflicts_total",
      "Containers that changed under a pinned reader (S3 412), reopened",
    );
    this.streamErrors = registry.counter(
      "des_retriever_stream_errors_total",
      "Response bodies that failed while streaming",
    );
    this.catalogContainers = registry.gauge(
      "des_retriever_catalog_containers",
      "Committed containers of the owned shards in the in-memory catalog",
    );
    this.memoryReaders = registry.gauge(
      "des_retriever_cached_readers",
      "Open container readers in the memory cache",
    );
    this.memoryBytes = registry.gauge(
      "des_retriever_cached_index_bytes",
      "Container tail bytes in the memory cache",
    );
    this.damagedNames = registry.gauge(
      "des_retriever_damaged_names",
      "Names of the owned shards not served because a copy is damaged or lost",
    );
  }
}

/**
 * The series a read updates, resolved once per label combination, so a
 * read builds no label object and no series key.
 */
export class ReadSeries {
  /** Reads whose index came from memory. */
  readonly memoryLookups: CounterSeries;
  /** S3 requests per read. */
  readonly s3RequestsPerRead: HistogramSeries;
  /** Bytes of file content sent. */
  readonly bytes: CounterSeries;
  readonly #metrics: RetrieverMetrics;
  /** Index: GET file, GET meta, HEAD file, HEAD meta. */
  readonly #reads = [0, 1, 2, 3].map(() => new Map<number, CounterSeries>());
  readonly #latency: HistogramSeries[];

  /** @param metrics the retriever's metrics */
  constructor(metrics: RetrieverMetrics) {
    this.#metrics = metrics;
    this.memoryLookups = metrics.indexLookups.series({ tier: "memory" });
    this.s3RequestsPerRead = metrics.s3RequestsPerRead.series();
    this.bytes = metrics.bytes.series();
    this.#latency = [["GET", "file"], ["GET", "meta"], ["HEAD", "file"], ["HEAD", "meta"]]
      .map(([method, kind]) => metrics.latency.series({ method, kind }));
  }

  /** `des_retriever_reads_total` of one method, kind and status. */
  read(method: "GET" | "HEAD", kind: "file" | "meta", status: number): CounterSeries {
    const byStatus = this.#reads[slot(method, kind)];
    let series = byStatus.get(status);
    if (!series) {
      series = this.#metrics.reads.series({ method, kind, status });
      byStatus.set(status, series);
    }
    return series;
  }

  /** `des_retriever_read_seconds` of one method and kind. */
  latency(method: "GET" | "HEAD", kind: "file" | "meta"): HistogramSeries {
    return this.#latency[slot(method, kind)];
  }
}

function slot(method: "GET" | "HEAD", kind: "file" | "meta"): number {
  return (method === "HEAD" ? 2 : 0) + (kind === "meta" ? 1 : 0);
}
