/**
 * The retriever's edge byte cache: the content of hot files, so that a hot
 * read makes no store request at all. Two tiers, both optional:
 *
 * - **memory**: small files (at most an eighth of the budget, 1 MiB at
 *   most) in an LRU bounded by `DES_CACHE_MEMORY_BYTES`;
 * - **disk**: files up to 16 MiB under `DES_CACHE_DIR`, bounded by
 *   `DES_CACHE_DISK_BYTES` (see {@linkcode DiskCache}).
 *
 * Admission resists scans: a file enters the cache on its second miss (see
 * {@linkcode SecondHitAdmission}); on that miss the whole file is read with
 * one range request and checked (CRC-32C and SHA-256) before it is cached.
 * Every entry is keyed by container id, container ETag and file name, so a
 * container replaced under the same key (new ETag in the catalog, or learned
 * from a 412) can never be answered from old bytes. Files stored outside the
 * container (`_bigFiles/`) are not cached.
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import { type Counter, type CounterSeries, type Gauge, Registry } from "../core/metrics.ts";
import type { IndexEntry } from "../format/index.ts";
import { SecondHitAdmission } from "./admission.ts";
import type { OpenContainer } from "./container_readers.ts";
import { DiskCache } from "./disk_cache.ts";
import { LruCache } from "./lru.ts";

/** Largest file the memory tier takes (also bounded by an eighth of its budget). */
export const MEMORY_ENTRY_LIMIT = 1024 * 1024;
/** Largest file the disk tier takes (also bounded by an eighth of its budget). */
export const DISK_ENTRY_LIMIT = 16 * 1024 * 1024;
/** Bytes charged per memory entry beyond its content (key, map slot, object headers). */
export const MEMORY_ENTRY_OVERHEAD = 160;

/** Settings of {@linkcode ByteCache.open}. */
export interface ByteCacheSettings {
  /** Memory tier budget in bytes (0 = no memory tier). */
  memoryBytes: number;
  /** Disk tier budget in bytes (0 = no disk tier). */
  diskBytes: number;
  /** Directory of the disk tier. */
  dir: string;
}

/** Options of {@linkcode ByteCache.open}. */
export interface ByteCacheOptions extends ByteCacheSettings {
  /** Registry to add the cache metrics to (default: a new one). */
  registry?: Registry;
  /** Logger for disk tier problems. */
  log?: Logger;
}

/** Bytes of a requested range, and the store requests it took (0 on a hit, 1 on a fill). */
export interface CachedBytes {
  /** The requested bytes (a view of the cached file: do not modify). */
  bytes: Uint8Array;
  /** Store requests made. */
  dataRequests: number;
  /** Where they came from. */
  from: "memory" | "disk" | "fill";
}

/** Prometheus metrics of the byte cache. */
export class ByteCacheMetrics {
  /** Cacheable reads looked up. */
  readonly lookups: Counter;
  /** Lookups answered, by tier. */
  readonly hits: Counter;
  /** Entries evicted by the size bound, by tier. */
  readonly evictions: Counter;
  /** Disk tier files found damaged (dropped, read again from the store). */
  readonly corrupt: Counter;
  /** Bytes held, by tier. */
  readonly bytes: Gauge;
  /** Hits / lookups since start, by tier (set when the metrics are rendered). */
  readonly hitRatio: Gauge;

  /** @param registry where the metrics are registered */
  constructor(registry: Registry) {
    this.lookups = registry.counter(
      "des_retriever_byte_cache_lookups_total",
      "Reads of cacheable files looked up in the byte cache",
    );
    this.hits = registry.counter(
      "des_retriever_byte_cache_hits_total",
      "Byte cache lookups answered, by tier (memory, disk)",
    );
    this.evictions = registry.counter(
      "des_retriever_byte_cache_evictions_total",
      "Byte cache entries evicted by the size bound, by tier",
    );
    this.corrupt = registry.counter(
      "des_retriever_byte_cache_corrupt_total",
      "Disk tier entries that failed their CRC-32C or size check (dropped and re-read)",
    );
    this.bytes = registry.gauge("des_retriever_byte_cache_bytes", "Bytes held, by tier");
    this.hitRatio = registry.gauge(
      "des_retriever_byte_cache_hit_ratio",
      "Hits / lookups since start, by tier",
    );
  }
}

/** The two-tier byte cache. */
export class ByteCache {
  /** Its metrics. */
  readonly metrics: ByteCacheMetrics;
  readonly #memory?: LruCache<string, Uint8Array>;
  readonly #memoryLimit: number;
  readonly #disk?: DiskCache;
  readonly #diskLimit: number;
  readonly #admission: SecondHitAdmission;
  readonly #counts = { lookups: 0, memory: 0, disk: 0 };
  readonly #lookups: CounterSeries;
  readonly #hits: Record<"memory" | "disk", CounterSeries>;

  private constructor(
    settings: ByteCacheSettings,
    metrics: ByteCacheMetrics,
    disk: DiskCache | undefined,
  ) {
    this.metrics = metrics;
    this.#lookups = metrics.lookups.series();
    this.#hits = {
      memory: metrics.hits.series({ tier: "memory" }),
      disk: metrics.hits.series({ tier: "disk" }),
    };
    this.#memoryLimit = Math.min(MEMORY_ENTRY_LIMIT, Math.floor(settings.memoryBytes / 8));
    if (this.#memoryLimit > 0) {
      this.#memory = new LruCache<string, Uint8Array>({
        maxEntries: Number.MAX_SAFE_INTEGER,
        maxWeight: settings.memoryBytes,
        weigh: (bytes) => bytes.byteLength + MEMORY_ENTRY_OVERHEAD,
        onEvict: () => metrics.evictions.inc({ tier: "memory" }),
      });
    }
    this.#disk = disk;
    this.#diskLimit = disk ? Math.min(DISK_ENTRY_LIMIT, Math.floor(settings.diskBytes / 8)) : 0;
    // Remember about as many missed keys as the cache holds small files, at least 4096.
    const capacity = Math.max(4096, Math.floor((settings.memoryBytes + settings.diskBytes) / 4096));
    this.#admission = new SecondHitAdmission(Math.min(capacity, 1 << 20));
  }

  /** Open the tiers the settings ask for (the disk tier adopts files of an earlier run). */
  static async open(options: ByteCacheOptions): Promise<ByteCache> {
    const registry = options.registry ?? new Registry();
    const metrics = new ByteCacheMetrics(registry);
    const disk = options.diskBytes > 0
      ? await DiskCache.open({
        dir: options.dir,
        maxBytes: options.diskBytes,
        log: options.log,
        onEvict: () => metrics.evictions.inc({ tier: "disk" }),
      })
      : undefined;
    const cache = new ByteCache(options, metrics, disk);
    registry.onCollect(() => cache.#updateGauges());
    return cache;
  }

  /** Bytes held by the memory tier (content plus the per-entry overhead charged). */
  get memoryBytes(): number {
    return this.#memory?.weight ?? 0;
  }

  /** Bytes held by the disk tier. */
  get diskBytes(): number {
    return this.#disk?.bytes ?? 0;
  }

  /** Whether a file of this entry can be cached at all. */
  cacheable(entry: IndexEntry): boolean {
    return !entry.external && entry.size > 0 &&
      entry.size <= Math.max(this.#memoryLimit, this.#diskLimit);
  }

  /**
   * The bytes of `range` of `entry` from the cache, or after an admitted
   * miss from one whole-file read (checked) that fills the cache. Undefined
   * when the caller should read from the store itself (not cacheable, or a
   * first miss). Store errors of a fill (412, checksum) propagate.
   */
  async read(
    open: OpenContainer,
    entry: IndexEntry,
    range: { offset: number; length: number },
  ): Promise<CachedBytes | undefined> {
    if (!this.cacheable(entry)) return undefined;
    const key = cacheKey(open.container.id, open.etag, entry.name);
    this.#counts.lookups++;
    this.#lookups.inc();
    const slice = (bytes: Uint8Array) => bytes.subarray(range.offset, range.offset + range.length);
    const inMemory = this.#memory?.get(key);
    if (inMemory) {
      this.#hit("memory");
      return { bytes: slice(inMemory), dataRequests: 0, from: "memory" };
    }
    let damaged = false;
    if (this.#disk && entry.size <= this.#diskLimit) {
      const found = await this.#disk.get(key, entry);
      if (found.kind === "hit") {
        if (entry.size <= this.#memoryLimit) this.#memory?.set(key, found.bytes);
        this.#hit("disk");
        return { bytes: slice(found.bytes), dataRequests: 0, from: "disk" };
      }
      if (found.kind === "corrupt") {
        this.metrics.corrupt.inc();
        damaged = true;
      }
    }
    // A damaged entry was admitted before: refill it at once.
    if (!damaged && !this.#admission.admit(key)) return undefined;
    const read = await open.reader.readFile(entry);
    // Own the bytes: a view into a larger buffer would pin (and hide) that buffer.
    const bytes = read.byteOffset === 0 && read.buffer.byteLength === read.byteLength
      ? read
      : read.slice();
    if (entry.size <= this.#memoryLimit) this.#memory?.set(key, bytes);
    if (entry.size <= this.#diskLimit) this.#disk?.put(key, bytes);
    return { bytes: slice(bytes), dataRequests: 1, from: "fill" };
  }

  /**
   * Drop the cached bytes of `name` in one container version from both
   * tiers (a deleted name). Returns the tiers that held it.
   */
  drop(containerId: string, etag: string, name: string): ("memory" | "disk")[] {
    const key = cacheKey(containerId, etag, name);
    const held: ("memory" | "disk")[] = [];
    if (this.#memory?.delete(key)) held.push("memory");
    if (this.#disk?.has(key)) {
      this.#disk.delete(key);
      held.push("disk");
    }
    return held;
  }

  /**
   * The bytes of `range` of `entry` when the memory tier holds the file
   * (counted as a lookup and a hit), else undefined and nothing counted: the
   * caller then goes through {@linkcode ByteCache.read}. Synchronous.
   */
  memoryHit(
    open: OpenContainer,
    entry: IndexEntry,
    range: { offset: number; length: number },
  ): Uint8Array | undefined {
    if (!this.#memory || entry.external || entry.size > this.#memoryLimit) return undefined;
    const bytes = this.#memory.get(cacheKey(open.container.id, open.etag, entry.name));
    if (!bytes) return undefined;
    this.#counts.lookups++;
    this.#lookups.inc();
    this.#hit("memory");
    return range.offset === 0 && range.length === bytes.byteLength
      ? bytes
      : bytes.subarray(range.offset, range.offset + range.length);
  }

  /**
   * Forget every file of container `containerId` (retired by compaction):
   * memory entries go, and disk files are deleted before this resolves.
   */
  async dropContainer(containerId: string): Promise<void> {
    const prefix = `${containerId}\u0000`;
    for (const key of this.#memory?.keys() ?? []) {
      if (key.startsWith(prefix)) this.#memory!.delete(key);
    }
    await this.#disk?.dropGroup(containerId);
  }

  /** Wait for background disk writes. */
  flush(): Promise<void> {
    return this.#disk?.flush() ?? Promise.resolve();
  }

  #hit(tier: "memory" | "disk"): void {
    this.#counts[tier]++;
    this.#hits[tier].inc();
  }

  /** Gauges are set when the registry is rendered, not on every read. */
  #updateGauges(): void {
    const { lookups } = this.#counts;
    for (const tier of ["memory", "disk"] as const) {
      this.metrics.hitRatio.set(lookups ? this.#counts[tier] / lookups : 0, { tier });
    }
    this.metrics.bytes.set(this.memoryBytes, { tier: "memory" });
    this.metrics.bytes.set(this.diskBytes, { tier: "disk" });
  }
}

/** The key of a file's bytes: container id, container ETag and file name. */
function cacheKey(containerId: string, etag: string, name: string): string {
  return `${containerId}\u0000${etag}\u0000${name}`;
}
