/**
 * `Retriever`: serves the files of one shard range. It keeps the committed
 * container catalog of its shards in memory (loaded from the metadata DB,
 * followed by NOTIFY), finds a name's container without a DB query, opens
 * containers once (memory LRU → Deno KV → one suffix GET) and answers each
 * read with one Range GET pinned to the container's ETag. `handle()` is the
 * whole HTTP behaviour, so the gateway can call it in-process.
 *
 * @module
 */

import { DesConflictError, DesError, DesFormatError, DesNotFoundError } from "../core/errors.ts";
import { deleteName } from "../lifecycle/delete_name.ts";
import { Logger } from "../core/log.ts";
import { bodyLength } from "../core/body_length.ts";
import { LogThrottle } from "../core/log_throttle.ts";
import { asDesError, problemResponse } from "../core/problem.ts";
import {
  DAMAGED_FILE_CODE,
  FILE_METHODS,
  type FilesRoute,
  META_METHODS,
  parseFilesPath,
  PROBLEM_HEADER,
} from "../core/read_path.ts";
import { withTimeout } from "../core/timeouts.ts";
import { activeTrace, inSpan, TRACING } from "../core/spans.ts";
import type { HeaderSource } from "../core/http_range.ts";
import { parseTraceparent, type TraceContext } from "../core/trace.ts";
import type { Db } from "../db/db.ts";
import { type NameFormat, parseName } from "../naming/mod.ts";
import { formatShardRange, inShardRange, type ShardRange } from "../naming/shard_range.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { type CatalogContainer, ContainerCatalog } from "./catalog.ts";
import { ByteCache, type ByteCacheSettings } from "./byte_cache.ts";
import { CatalogSync } from "./catalog_sync.ts";
import { LruCache } from "./lru.ts";
import type { DesReader } from "../format/reader.ts";
import type { IndexEntry } from "../format/index.ts";
import type { FileMeta } from "../format/meta.ts";
import {
  ContainerReaders,
  DesContainerUnavailableError,
  type OpenContainer,
  type OpenResult,
} from "./container_readers.ts";
import {
  cachedFileResponse,
  fileResponse,
  type FoundFile,
  metaResponse,
  planFile,
  type ResponseStyle,
  styled,
} from "./file_response.ts";
import { ReadSeries, RetrieverMetrics } from "./metrics.ts";
import { TailCache } from "./tail_cache.ts";
import { TOMBSTONE_NAMES } from "./tombstone_names.ts";
import { damagedFileError, damagedNamesSource } from "./damaged_names.ts";
import { WatchedNames } from "./watched_names.ts";

/** Per-request facts passed by the caller (the gateway, or the HTTP app). */
export interface RequestContext {
  /** Trace of the request (parsed from `traceparent` when absent). */
  trace?: TraceContext;
  /** Authenticated client id, for logs. */
  clientId?: string;
}

/** One read handed over by a caller in the same process, already parsed (see `Retriever.read`). */
export interface FileRead {
  /** `GET` or `HEAD`. */
  method: "GET" | "HEAD";
  /** The percent-decoded name. */
  name: string;
  /** Its shard, parsed with the same name format. */
  shard: number;
  /** The request path, for problem instances and the log. */
  path: string;
  /** The request's range and conditional headers (already filtered by the caller). */
  headers: HeaderSource;
  /** Trace of the request. */
  trace?: TraceContext;
  /** Authenticated client id, for logs. */
  clientId?: string;
  /** How every response is to be dressed (the caller's edge headers). */
  style?: ResponseStyle;
}

/** Most remembered index entries with their meta records (about 0.5 KiB each). */
const LOCATED_ENTRIES = 8192;

interface LocatedFile {
  reader: DesReader;
  entry: IndexEntry;
  meta: FileMeta;
}

/** What one read cost and where it found the file (for metrics and its span). */
interface ReadCost {
  /** S3 requests made. */
  s3: number;
  /** Where the container index came from (memory, kv, s3). */
  tier?: string;
  /** Container the file was found in. */
  container?: string;
}

/**
 * A read failed because the container's object was replaced (412) or is
 * gone (404): the catalog may be stale. Caught by the retriever itself,
 * which reloads the catalog and tries once more.
 */
class StaleContainerError extends DesConflictError {
  constructor(
    readonly container: CatalogContainer,
    readonly open: OpenContainer | undefined,
    cause: unknown,
  ) {
    super(`container ${container.key} changed or is gone in the store`, {
      container: container.key,
    });
    this.cause = cause;
  }
}

/**
 * Whether a read failed because what the pinned reader points at changed or
 * went: the container object (412, 404) or one of its big-file objects (404,
 * deleted with the container it belonged to once compaction replaced it).
 */
function goneUnderReader(error: unknown): boolean {
  return error instanceof DesConflictError || error instanceof DesNotFoundError ||
    (error instanceof DesFormatError && error.cause instanceof DesNotFoundError);
}

/** Options of {@linkcode Retriever.start}. */
export interface RetrieverOptions {
  /** Retriever id (logs, `X-DES-Retriever`, registration). */
  id: string;
  /** Shards served. */
  range: ShardRange;
  /** Shard bits and name prefix. */
  nameFormat: NameFormat;
  /** Metadata DB (the caller owns it). */
  db: Db;
  /** Store of a catalog bucket (the caller owns the stores). */
  storeFor: (bucket: string) => ObjectStore;
  /** Bucket probed by `/readyz`. */
  readinessBucket: string;
  /** Deno KV file of the index cache; omitted = memory only. */
  kvPath?: string;
  /** Most readers in memory (default 4096). */
  maxReaders?: number;
  /** Most tail bytes in memory (default 256 MiB). */
  maxCacheBytes?: number;
  /** Most bytes of the Deno KV index cache, oldest evicted first (default and 0: no bound). */
  kvMaxBytes?: number;
  /**
   * Level of the per-read log line (default `info`); `debug` where a gateway
   * in the same process already writes one line per request.
   */
  readLogLevel?: "info" | "debug";
  /** Byte cache of hot files (memory and disk tiers); omitted = none. */
  byteCache?: ByteCacheSettings;
  /** Full reload interval of the catalog and the tombstones in ms (default 60 000). */
  catalogRefreshMs?: number;
  /** Metrics (default: a new registry). */
  metrics?: RetrieverMetrics;
  /** Logger (default: component `retriever`). */
  log?: Logger;
}

/** Outcome of the readiness checks. */
export interface Readiness {
  /** All checks passed. */
  ready: boolean;
  /** Check name → `ok` or what failed. */
  checks: Record<string, string>;
}

/** Most milliseconds one readiness check (database, store) may take. */
export const READY_CHECK_TIMEOUT_MS = 1_500;

/** A running retriever. */
export class Retriever {
  /** Retriever id. */
  readonly id: string;
  /** Shards served. */
  readonly range: ShardRange;
  /** Metrics. */
  readonly metrics: RetrieverMetrics;
  /** The in-memory catalog. */
  readonly catalog: ContainerCatalog;
  readonly #options: RetrieverOptions;
  readonly #readers: ContainerReaders;
  readonly #bytes?: ByteCache;
  /** Recently found index entries and decoded meta records, so a hot read decodes neither. */
  readonly #located = new LruCache<string, LocatedFile>({ maxEntries: LOCATED_ENTRIES });
  readonly #sync: CatalogSync;
  /** Deleted names: answered 410 before any lookup or cache. */
  readonly #tombstones: WatchedNames;
  /** Names with a damaged or lost copy: answered with a problem before any lookup or cache. */
  readonly #damaged: WatchedNames;
  readonly #kv?: Deno.Kv;
  readonly #log: Logger;
  /** Error lines of one repeating cause (an S3 outage fails every read) are rate-limited. */
  readonly #errors: LogThrottle;
  readonly #series: ReadSeries;
  #readiness?: { at: number; value: Promise<Readiness> };

  private constructor(
    options: RetrieverOptions,
    catalog: ContainerCatalog,
    readers: ContainerReaders,
    sync: CatalogSync,
    tombstones: WatchedNames,
    damaged: WatchedNames,
    metrics: RetrieverMetrics,
    log: Logger,
    kv?: Deno.Kv,
    bytes?: ByteCache,
  ) {
    this.#tombstones = tombstones;
    this.id = options.id;
    this.range = options.range;
    this.#options = options;
    this.catalog = catalog;
    this.#readers = readers;
    this.#sync = sync;
    this.#damaged = damaged;
    this.metrics = metrics;
    this.#log = log;
    this.#errors = new LogThrottle(log);
    this.#series = new ReadSeries(metrics);
    this.#kv = kv;
    this.#bytes = bytes;
  }

  /** Open the index cache, load the catalog, follow commits. */
  static async start(options: RetrieverOptions): Promise<Retriever> {
    const log = (options.log ?? new Logger("retriever")).child({
      retriever: options.id,
      range: formatShardRange(options.range),
    });
    const metrics = options.metrics ?? new RetrieverMetrics();
    const catalog = new ContainerCatalog();
    let kv: Deno.Kv | undefined;
    let tails: TailCache | undefined;
    if (options.kvPath) {
      ({ kv, cache: tails } = await TailCache.open(options.kvPath, {
        maxBytes: options.kvMaxBytes,
      }));
    }
    const readers = new ContainerReaders({
      storeFor: options.storeFor,
      tails,
      maxReaders: options.maxReaders,
      maxBytes: options.maxCacheBytes,
      log,
    });
    // Set once the readers and the byte cache exist; nothing is removed before the first load.
    let removed: (container: CatalogContainer) => void = () => {};
    const sync = new CatalogSync(options.db, options.range, catalog, {
      refreshMs: options.catalogRefreshMs,
      log,
      onChange: (size) => metrics.catalogContainers.set(size),
      onRemoved: (container) => removed(container),
    });
    // The retriever exists only after the start-up load; names tombstoned later drop their bytes.
    const late: { retriever?: Retriever } = {};
    const tombstones = new WatchedNames(options.db, options.range, TOMBSTONE_NAMES, {
      refreshMs: options.catalogRefreshMs,
      log,
      onAdded: (name) => {
        if (late.retriever) late.retriever.#forget(name);
      },
    });
    const damaged = new WatchedNames(
      options.db,
      options.range,
      damagedNamesSource((id) => sync.addContainer(id)),
      {
        refreshMs: options.catalogRefreshMs,
        log,
        onChange: (size) => metrics.damagedNames.set(size),
      },
    );
    let bytes: ByteCache | undefined;
    try {
      const settings = options.byteCache;
      if (settings && (settings.memoryBytes > 0 || settings.diskBytes > 0)) {
        bytes = await ByteCache.open({ ...settings, registry: metrics.registry, log });
      }
      await sync.start();
      await tombstones.start();
      await damaged.start();
    } catch (error) {
      await damaged.close();
      await tombstones.close();
      await sync.close();
      kv?.close();
      throw error;
    }
    metrics.registry.onCollect(() => {
      const memory = readers.memoryStats;
      metrics.memoryReaders.set(memory.readers);
      metrics.memoryBytes.set(memory.bytes);
    });
    removed = (container) => {
      readers.drop(container).catch(() => {});
      bytes?.dropContainer(container.id).catch((error) =>
        log.warn("could not drop the cached bytes of a retired container", {
          containerId: container.id,
          error,
        })
      );
    };
    log.info("retriever started", {
      containers: catalog.size,
      tombstones: tombstones.size,
      damaged: damaged.size,
      kv: options.kvPath ?? null,
      byteCache: options.byteCache ?? null,
    });
    late.retriever = new Retriever(
      options,
      catalog,
      readers,
      sync,
      tombstones,
      damaged,
      metrics,
      log,
      kv,
      bytes,
    );
    return late.retriever;
  }

  /** Whether `name` is deleted (its reads answer 410 Gone). */
  isTombstoned(name: string): boolean {
    return this.#tombstones.has(name);
  }

  /** The byte cache of hot files, when one is configured. */
  get byteCache(): ByteCache | undefined {
    return this.#bytes;
  }

  /** Reload the catalog now (normally NOTIFY and the timer do this). */
  refreshCatalog(): Promise<number> {
    return this.#sync.refresh();
  }

  /** Stop following the catalog, finish index cache writes, close the KV file. */
  async close(): Promise<void> {
    await this.#tombstones.close();
    await this.#damaged.close();
    await this.#sync.close();
    await this.#readers.flush();
    await this.#bytes?.flush();
    this.#kv?.close();
  }

  /**
   * Answer `GET|HEAD /files/{name}`, `GET|HEAD /files/{name}/meta` and
   * `DELETE /files/{name}` (the caller has authorized it). A tombstoned name
   * answers 410 before any cache or store is asked. Never throws: failures
   * are problem+json responses.
   */
  async handle(request: Request, ctx: RequestContext = {}): Promise<Response> {
    const started = performance.now();
    const path = new URL(request.url).pathname;
    const trace = ctx.trace ?? activeTrace() ??
      parseTraceparent(request.headers.get("traceparent"));
    const method = request.method === "HEAD" || request.method === "DELETE"
      ? request.method
      : "GET";
    let route: FilesRoute | undefined;
    try {
      route = parseFilesPath(path);
      const deletes = request.method === "DELETE" && !route.meta;
      if (request.method !== "GET" && request.method !== "HEAD" && !deletes) {
        throw new DesError(`method ${request.method} is not allowed`, {
          code: "method-not-allowed",
          status: 405,
        });
      }
      if (deletes) {
        return await this.#delete(route.name, this.#shardOf(route.name), ctx.clientId);
      }
    } catch (error) {
      const response = this.#failed(error, path, route);
      this.#record(
        method,
        route?.meta ? "meta" : "file",
        response,
        0,
        started,
        path,
        trace,
        ctx.clientId,
      );
      return response;
    }
    return await this.#answer({
      method: method === "HEAD" ? "HEAD" : "GET",
      name: route.name,
      meta: route.meta,
      path,
      headers: request.headers,
      trace,
      clientId: ctx.clientId,
    }, started);
  }

  /**
   * Answer a `GET|HEAD /files/{name}` already parsed by a caller in the same
   * process (the gateway): no `Request`, and for a hot file (index entry,
   * container and bytes in memory) a `Response` built at once with no
   * promise in between (a tombstoned or damaged name takes the full path, which
   * answers its problem). Never throws: failures are problem+json responses,
   * dressed by `read.style` like every other answer.
   */
  read(read: FileRead): Response | Promise<Response> {
    const started = performance.now();
    if (
      !TRACING && this.#sync.shardLoaded(read.shard) && inShardRange(this.range, read.shard) &&
      !this.#tombstones.has(read.name) && !this.#damaged.has(read.name)
    ) {
      const found = this.#locateInMemory(read.name, read.shard);
      if (found) {
        const plan = planFile(read.method, read.headers, found, read.path, read.style);
        const response = cachedFileResponse(plan, found, this.#bytes);
        if (response) {
          this.#record(
            read.method,
            "file",
            response,
            0,
            started,
            read.path,
            read.trace,
            read.clientId,
          );
          return response;
        }
      }
    }
    return this.#answer({ ...read, meta: false }, started);
  }

  async #answer(
    read: Omit<FileRead, "shard"> & { shard?: number; meta: boolean },
    started: number,
  ): Promise<Response> {
    const { method, path, trace } = read;
    const route: FilesRoute = { name: read.name, meta: read.meta };
    let response: Response;
    let s3Requests = 0;
    try {
      const shard = this.#shardOf(read.name, read.shard);
      if (this.#tombstones.has(route.name)) {
        throw new DesError(`${route.name} was deleted`, {
          code: "gone",
          status: 410,
          context: { name: route.name },
        });
      }
      const cost: ReadCost = { s3: 0 };
      try {
        const onStreamError = (error: unknown) => {
          this.metrics.streamErrors.inc();
          const code = error instanceof DesError ? error.code : "stream";
          this.#errors.log("error", `body:${code}`, "response body failed", {
            path,
            error,
            traceId: trace?.traceId,
          });
        };
        const attributes = { "des.file.name": route.name, "des.shard": shard };
        response = await inSpan("des.retriever.read", attributes, async (span) => {
          const answer = await this.#respond(
            method,
            read.headers,
            route,
            shard,
            path,
            cost,
            { onStreamError, style: read.style },
          );
          span.setAttributes({
            "des.container.id": cost.container ?? "",
            "des.cache.tier": cost.tier ?? "",
            "des.s3_requests": cost.s3,
            "http.response.status_code": answer.status,
          });
          return answer;
        });
      } finally {
        s3Requests = cost.s3;
      }
    } catch (error) {
      response = styled(this.#failed(error, path, route), read.style);
    }
    this.#record(
      method,
      route.meta ? "meta" : "file",
      response,
      s3Requests,
      started,
      path,
      trace,
      read.clientId,
    );
    return response;
  }

  /** The problem response of a failed request (5xx logged, rate-limited per cause). */
  #failed(error: unknown, path: string, route?: FilesRoute): Response {
    const e = asDesError(error);
    if (e.status >= 500) {
      this.#errors.log("error", `read:${e.code}`, "read failed", {
        path,
        error: e,
        cause: e.cause,
      });
    }
    const headers: Record<string, string> = e.status === 405
      ? { allow: route?.meta ? META_METHODS : FILE_METHODS }
      : {};
    if (e.status === 503) headers["retry-after"] = "1";
    if (e.code === DAMAGED_FILE_CODE) headers[PROBLEM_HEADER] = e.code;
    return problemResponse(e, path, headers);
  }

  /** Metrics and the log line of one request. */
  #record(
    method: "GET" | "HEAD" | "DELETE",
    kind: "file" | "meta",
    response: Response,
    s3Requests: number,
    started: number,
    path: string,
    trace: TraceContext | undefined,
    clientId: string | undefined,
  ): void {
    const seconds = (performance.now() - started) / 1000;
    const status = response.status;
    const bytes = status < 300 && method === "GET" && status !== 204 ? bodyLength(response) : 0;
    if (method === "DELETE") {
      this.metrics.reads.inc({ method, kind, status });
      this.metrics.latency.observe(seconds, { method, kind });
    } else {
      this.#series.read(method, kind, status).inc();
      this.#series.latency(method, kind).observe(seconds);
    }
    this.#series.s3RequestsPerRead.observe(s3Requests);
    if (kind === "file") this.#series.bytes.inc(bytes);
    const level = this.#options.readLogLevel ?? "info";
    if (!this.#log.enabled(level)) return;
    this.#log.log(level, "read", {
      method,
      path,
      status,
      bytes,
      s3Requests,
      ms: Math.round(seconds * 10_000) / 10,
      traceId: trace?.traceId,
      client: clientId,
    });
  }

  /**
   * `DELETE /files/{name}`: tombstone the name (see `deleteName`): 204, also
   * when it was deleted before; 404 when no container holds it. From the
   * answer on, this retriever answers 410; the others follow the
   * notification.
   */
  async #delete(name: string, shard: number, actor?: string): Promise<Response> {
    if (!this.#tombstones.has(name)) {
      const outcome = await deleteName(
        { db: this.#options.db, storeFor: this.#options.storeFor },
        { name, shard, origin: "api", actor, notStored: "unknown" },
      );
      if (outcome.kind === "unknown" || outcome.kind === "pending") {
        throw new DesNotFoundError(`no file named ${name}`, { name });
      }
      this.#log.info("file deleted", { name, actor, outcome: outcome.kind });
      this.#tombstones.add(name, shard);
    }
    return new Response(null, { status: 204 });
  }

  /** Drop a deleted name's cached bytes (best effort: reads answer 410 before any cache). */
  #forget(name: string): void {
    const bytes = this.#bytes;
    if (!bytes) return;
    let shard: number;
    try {
      shard = parseName(name, this.#options.nameFormat).shard;
    } catch {
      return;
    }
    const shardLoad = this.#sync.ensureShard(shard);
    if (shardLoad) {
      shardLoad.then(() => this.#forget(name), () => {});
      return;
    }
    for (const container of this.catalog.candidates(shard, name)) {
      this.#readers.open(container).then(
        ({ open }) => bytes.drop(container.id, open.etag, name),
        () => {},
      );
    }
  }

  /**
   * DB reachable, catalog loaded, store answering (cached for 2 s). Each
   * check is bounded by {@linkcode READY_CHECK_TIMEOUT_MS}, so the answer
   * comes in time and names the dependency that is down.
   */
  ready(): Promise<Readiness> {
    const now = Date.now();
    if (!this.#readiness || now - this.#readiness.at > 2000) {
      this.#readiness = { at: now, value: this.#checkReady() };
    }
    return this.#readiness.value;
  }

  async #checkReady(): Promise<Readiness> {
    const checks: Record<string, string> = {};
    const ms = READY_CHECK_TIMEOUT_MS;
    const run = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), ms, () => new Error(`${name} did not answer within ${ms} ms`));
        checks[name] = "ok";
      } catch (error) {
        checks[name] = (error as Error).message ?? String(error);
      }
    };
    await Promise.all([
      run("database", () => this.#options.db.query("select 1")),
      run("catalog", () => {
        if (!this.#sync.loaded) throw new Error("catalog not loaded yet");
        if (!this.#tombstones.loaded) throw new Error("tombstones not loaded yet");
        return Promise.resolve();
      }),
      run("store", () => this.#options.storeFor(this.#options.readinessBucket).head("des-readyz")),
    ]);
    return { ready: Object.values(checks).every((v) => v === "ok"), checks };
  }

  /** The name's shard (parsed unless the caller already did), 421 when not served here. */
  #shardOf(name: string, known?: number): number {
    const shard = known ?? parseName(name, this.#options.nameFormat).shard;
    if (!inShardRange(this.range, shard)) {
      throw new DesError(
        `shard ${shard} is not served by retriever ${this.id} (${formatShardRange(this.range)})`,
        { code: "misdirected", status: 421, context: { shard, retriever: this.id } },
      );
    }
    return shard;
  }

  async #respond(
    method: "GET" | "HEAD",
    headers: HeaderSource,
    route: FilesRoute,
    shard: number,
    instance: string,
    cost: ReadCost,
    hooks: { onStreamError: (error: unknown) => void; style?: ResponseStyle },
  ): Promise<Response> {
    if (!this.#sync.loaded) {
      throw new DesError("the container catalog is not loaded yet", {
        code: "unavailable",
        status: 503,
      });
    }
    if (this.#damaged.has(route.name)) throw damagedFileError(route.name);
    // The first read of a shard whose catalog is not loaded yet waits for it.
    const shardLoad = this.#sync.ensureShard(shard);
    if (shardLoad) await shardLoad;
    const attempt = async () => {
      const found = await this.#locate(route.name, shard, cost);
      if (route.meta) return styled(metaResponse(found), hooks.style);
      try {
        const result = await fileResponse(
          method,
          headers,
          found,
          instance,
          hooks.onStreamError,
          this.#bytes,
          hooks.style,
        );
        cost.s3 += result.dataRequests;
        return result.response;
      } catch (error) {
        if (goneUnderReader(error)) {
          throw new StaleContainerError(found.open.container, found.open, error);
        }
        throw error;
      }
    };
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof StaleContainerError)) throw error;
      // The object changed or is gone under the pinned reader (replaced, or
      // deleted after compaction): forget it, reload the shard's catalog, try once more.
      cost.s3 += 1;
      this.metrics.conflicts.inc();
      this.#log.warn("container changed or gone in the store; reloading the catalog", {
        container: error.container.key,
        etag: error.open?.etag,
        cause: error.cause,
      });
      await this.#readers.drop(error.container, error.open);
      await this.#sync.reloadShard(shard);
      return await attempt().catch((again) => {
        throw again instanceof StaleContainerError ? again.cause : again;
      });
    }
  }

  /**
   * The file when every container to look in is open in memory (no I/O),
   * else undefined (the caller takes the asynchronous path, which also
   * answers a 404).
   */
  #locateInMemory(name: string, shard: number): FoundFile | undefined {
    for (const container of this.catalog.candidates(shard, name)) {
      const open = this.#readers.peek(container);
      if (!open) return undefined;
      this.#series.memoryLookups.inc();
      const key = `${container.id}\u0000${name}`;
      const known = this.#located.get(key);
      if (known?.reader === open.reader) return { open, entry: known.entry, meta: known.meta };
      const entry = open.reader.find(name);
      if (entry) {
        const meta = open.reader.meta(entry);
        this.#located.set(key, { reader: open.reader, entry, meta });
        return { open, entry, meta };
      }
    }
    return undefined;
  }

  async #locate(name: string, shard: number, cost: ReadCost): Promise<FoundFile> {
    for (const container of this.catalog.candidates(shard, name)) {
      const { open } = await this.#open(container, cost);
      const key = `${container.id}\u0000${name}`;
      const known = this.#located.get(key);
      // Valid only for the very reader it came from: a reopened container has a new reader.
      if (known?.reader === open.reader) {
        cost.container = container.id;
        return { open, entry: known.entry, meta: known.meta };
      }
      const entry = open.reader.find(name);
      if (entry) {
        cost.container = container.id;
        const meta = open.reader.meta(entry);
        this.#located.set(key, { reader: open.reader, entry, meta });
        return { open, entry, meta };
      }
    }
    throw new DesNotFoundError(`no file named ${name}`, { name });
  }

  async #open(container: CatalogContainer, cost: ReadCost): Promise<OpenResult> {
    let result: OpenResult;
    try {
      result = await this.#readers.open(container);
    } catch (error) {
      if (error instanceof DesContainerUnavailableError) {
        throw new StaleContainerError(container, undefined, error);
      }
      if (!(error instanceof DesConflictError)) throw error;
      // The catalog's ETag is stale: learn the current version once.
      cost.s3 += 1;
      this.metrics.conflicts.inc();
      await this.#readers.drop(container);
      try {
        result = await this.#readers.open(container);
      } catch (again) {
        if (again instanceof DesConflictError || again instanceof DesContainerUnavailableError) {
          throw new StaleContainerError(container, undefined, again);
        }
        throw again;
      }
    }
    cost.s3 += result.s3Requests;
    cost.tier = result.from;
    this.metrics.indexLookups.inc({ tier: result.from });
    return result;
  }
}
