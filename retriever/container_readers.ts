/**
 * Open container readers, cached in two tiers: a bounded in-memory LRU of
 * `DesReader`s and the container tails in Deno KV. A reader is opened once
 * (memory → KV → one suffix GET on S3) and concurrent opens of the same
 * container share one request. Readers are pinned to the object version
 * their tail came from; when S3 answers 412 the caller drops the container
 * here and reopens it once.
 *
 * @module
 */

import { DesConflictError, DesError, DesNotFoundError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { DesReader } from "../format/reader.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { CatalogContainer } from "./catalog.ts";
import { LruCache } from "./lru.ts";
import { PinnedRangeSource } from "./pinned_source.ts";
import type { TailCache } from "./tail_cache.ts";

/** Where an open reader came from. */
export type OpenedFrom = "memory" | "kv" | "s3";

/** A reader of one container version. */
export interface OpenContainer {
  /** The catalog entry. */
  container: CatalogContainer;
  /** The reader. */
  reader: DesReader;
  /** ETag of the object version the reader is pinned to. */
  etag: string;
}

/** The result of {@linkcode ContainerReaders.open}. */
export interface OpenResult {
  /** The open container. */
  open: OpenContainer;
  /** Which tier answered. */
  from: OpenedFrom;
  /** S3 requests this call made (0 from memory or KV). */
  s3Requests: number;
}

/** A committed container whose object is missing or unreadable (HTTP 502). */
export class DesContainerUnavailableError extends DesError {
  /** @param message what failed @param context container key and id */
  constructor(message: string, context: Record<string, unknown>, cause?: unknown) {
    super(message, { code: "container.unavailable", status: 502, context, cause });
  }
}

/** Options of {@linkcode ContainerReaders}. */
export interface ContainerReadersOptions {
  /** The store of a container's bucket (containers and their big files). */
  storeFor: (bucket: string) => ObjectStore;
  /** Persistent tail cache; none = memory only. */
  tails?: TailCache;
  /** Most readers kept in memory (default 4096). */
  maxReaders?: number;
  /** Most tail bytes kept in memory (default 256 MiB). */
  maxBytes?: number;
  /** Suffix read size of a cold open (default: the format's default). */
  suffixBytes?: number;
  /** Logger for background KV failures. */
  log?: Logger;
}

/** The two-tier cache of open readers. */
export class ContainerReaders {
  readonly #storeFor: (bucket: string) => ObjectStore;
  readonly #tails?: TailCache;
  readonly #memory: LruCache<string, OpenContainer>;
  readonly #opening = new Map<string, Promise<OpenResult>>();
  /** ETags learned after a 412 (null: not learned yet), overriding a stale catalog ETag. */
  readonly #etagOverride = new Map<string, string | null>();
  readonly #pendingWrites = new Set<Promise<void>>();
  readonly #suffixBytes?: number;
  readonly #log?: Logger;

  /** @param options store, KV cache and limits */
  constructor(options: ContainerReadersOptions) {
    this.#storeFor = options.storeFor;
    this.#tails = options.tails;
    this.#suffixBytes = options.suffixBytes;
    this.#log = options.log;
    this.#memory = new LruCache({
      maxEntries: options.maxReaders ?? 4096,
      maxWeight: options.maxBytes ?? 256 * 1024 * 1024,
      weigh: (o) => o.reader.tail.byteLength,
    });
  }

  /** Readers and tail bytes held in memory. */
  get memoryStats(): { readers: number; bytes: number } {
    return { readers: this.#memory.size, bytes: this.#memory.weight };
  }

  /** The container's reader when it is open in memory (no I/O, no promise), else undefined. */
  peek(container: CatalogContainer): OpenContainer | undefined {
    return this.#memory.get(memoryKey(container));
  }

  /** The reader of `container`: from memory, else KV, else one suffix GET (two for huge indexes). */
  open(container: CatalogContainer): Promise<OpenResult> {
    const id = memoryKey(container);
    const hit = this.#memory.get(id);
    if (hit) return Promise.resolve({ open: hit, from: "memory", s3Requests: 0 });
    let pending = this.#opening.get(id);
    if (!pending) {
      pending = this.#load(container).finally(() => this.#opening.delete(id));
      this.#opening.set(id, pending);
      return pending;
    }
    // Joined another caller's open: its requests are not this read's.
    return pending.then((r) => ({ ...r, s3Requests: 0 }));
  }

  /**
   * Forget a container version everywhere after S3 answered 412 for it: the
   * next open rereads the tail from S3 and learns the object's current ETag
   * (the catalog's ETag is no longer trusted for this container).
   */
  async drop(container: CatalogContainer, open?: OpenContainer): Promise<void> {
    this.#memory.delete(memoryKey(container));
    this.#etagOverride.set(container.id, null);
    if (open) await this.#tails?.delete(tailKey(container, open.etag, open.reader.size));
  }

  /** Wait for background KV writes (call before closing the KV database). */
  async flush(): Promise<void> {
    while (this.#pendingWrites.size > 0) await Promise.allSettled([...this.#pendingWrites]);
  }

  async #load(container: CatalogContainer): Promise<OpenResult> {
    const override = this.#etagOverride.get(container.id);
    const known = override === undefined ? container.etag : override ?? undefined;
    const fromKv = override === null ? undefined : await this.#fromKv(container, known);
    if (fromKv) {
      this.#memory.set(memoryKey(container), fromKv);
      return { open: fromKv, from: "kv", s3Requests: 0 };
    }
    const store = this.#storeFor(container.bucket);
    // After a 412 neither the catalog's ETag nor its size is trusted for this object.
    const size = override === undefined ? container.size : undefined;
    const source = new PinnedRangeSource(store, container.key, { etag: known, size });
    let reader: DesReader;
    try {
      reader = await DesReader.open(source, { bigFiles: store, suffixBytes: this.#suffixBytes });
    } catch (error) {
      if (error instanceof DesConflictError || !(error instanceof DesNotFoundError)) throw error;
      throw new DesContainerUnavailableError(
        `container ${container.key} is in the catalog but not in the store`,
        { container: container.key, containerId: container.id },
        error,
      );
    }
    const open = { container, reader, etag: source.etag! };
    if (override !== undefined) this.#etagOverride.set(container.id, open.etag);
    this.#memory.set(memoryKey(container), open);
    this.#saveTail(open);
    return { open, from: "s3", s3Requests: source.requests };
  }

  async #fromKv(container: CatalogContainer, etag?: string): Promise<OpenContainer | undefined> {
    if (!this.#tails) return undefined;
    try {
      const version = etag !== undefined
        ? { etag, size: container.size }
        : await this.#tails.latest(objectId(container));
      if (!version) return undefined;
      if (version.size !== container.size && !this.#etagOverride.has(container.id)) {
        return undefined;
      }
      const tail = await this.#tails.get(tailKey(container, version.etag, version.size));
      if (!tail) return undefined;
      const store = this.#storeFor(container.bucket);
      const source = new PinnedRangeSource(store, container.key, version);
      const reader = DesReader.fromTail(source, tail, version.size, { bigFiles: store });
      return { container, reader, etag: version.etag };
    } catch (error) {
      this.#log?.warn("index cache entry unusable; reading the container tail from the store", {
        container: container.key,
        error,
      });
      return undefined;
    }
  }

  #saveTail(open: OpenContainer): void {
    if (!this.#tails) return;
    const id = tailKey(open.container, open.etag, open.reader.size);
    const write = this.#tails.set(id, open.reader.tail).catch((error) => {
      this.#log?.warn("could not store a container tail in the index cache", {
        container: open.container.key,
        error,
      });
    });
    this.#pendingWrites.add(write);
    write.finally(() => this.#pendingWrites.delete(write));
  }
}

function memoryKey(c: CatalogContainer): string {
  return `${c.id}\u0000${c.key}\u0000${c.etag ?? ""}\u0000${c.size}`;
}

/** The object behind a container, unique across buckets. */
function objectId(c: CatalogContainer): string {
  return `${c.bucket}/${c.key}`;
}

function tailKey(c: CatalogContainer, etag: string, size: number) {
  return { key: objectId(c), etag, size };
}
