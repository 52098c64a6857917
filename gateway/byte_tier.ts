/**
 * The gateway's own small byte tier (`DES_GATEWAY_CACHE_BYTES`): what a
 * retriever answered to a plain `200` GET of `/files/<name>` — its body and
 * headers — kept in memory so that the next reads of a hot small file skip
 * the hop to the retriever. Everything at the edge still runs for a hit
 * (authentication, rate limits, audit row, access log, metrics, trace);
 * only the hop is skipped.
 *
 * - **Same answers.** GET and HEAD, `Range`, `If-Match`, `If-None-Match`,
 *   `If-Modified-Since`, `If-Unmodified-Since` and `If-Range` are planned by
 *   the retriever's own code ({@linkcode planRepresentation}) from the kept
 *   validators, so a hit is byte- and header-identical to the retriever's
 *   answer. An answer is kept only when the headers that code rebuilds from
 *   it are exactly the ones the retriever sent.
 * - **Bounded.** Memory only, LRU by bytes (body, headers and a fixed
 *   overhead per entry); files up to 64 KiB and an eighth of the budget.
 * - **Scan-resistant.** A name is kept on its second miss (the retriever's
 *   {@linkcode SecondHitAdmission}).
 * - **Never stale.** Tombstoned and damaged names are never answered from
 *   memory and are dropped as their notification arrives; while those sets
 *   are not current (no DB, subscription lost or reloading) the tier is
 *   flushed and serves nothing (see {@linkcode TierGuard}). An entry is
 *   dropped on any answer for its name other than 200/206/304/412/416, on an
 *   answer with another ETag, and when another retriever owns the name; the
 *   tier is flushed when compaction retires a container.
 *
 * @module
 */

import { parseEntityTag, parseHttpDate } from "../core/http_range.ts";
import type { HeaderSource } from "../core/http_range.ts";
import { type Counter, type Gauge, Registry } from "../core/metrics.ts";
import { SecondHitAdmission } from "../retriever/admission.ts";
import {
  fileHeaders,
  type FileRepresentation,
  planRepresentation,
  type ResponseStyle,
} from "../retriever/file_response.ts";
import { LruCache } from "../retriever/lru.ts";
import { BUFFERED_HOP_BODY_LIMIT } from "./http_target.ts";
import type { TierGuard } from "./tier_names.ts";

/** Largest file the tier keeps (also bounded by an eighth of its budget). */
export const TIER_ENTRY_LIMIT = BUFFERED_HOP_BODY_LIMIT;
/** Bytes charged per entry beyond its body and header texts (objects, map slot). */
export const TIER_ENTRY_OVERHEAD = 1024;

/** Answers whose status says nothing against a kept entry (they depend on the request). */
const CONSISTENT = new Set([200, 206, 304, 412, 416]);

/** One kept answer. */
interface TierEntry {
  /** Retriever that answered (its id is in the headers). */
  retriever: string;
  /** Validators, type and size. */
  file: FileRepresentation;
  /** The whole file. */
  body: Uint8Array<ArrayBuffer>;
  /** Headers of the whole-file 200, dressed. */
  headers: Headers;
}

/** Admission of one missed GET: hand it back with the retriever's answer. */
export interface FillTicket {
  /** The name. */
  name: string;
  /** The guard's epoch when the read began. */
  epoch: number;
}

/** Prometheus metrics of the tier. */
export class ByteTierMetrics {
  /** Reads answered from memory. */
  readonly hits: Counter;
  /** Reads looked up and not found (while the tier was usable). */
  readonly misses: Counter;
  /** Entries evicted by the size bound. */
  readonly evictions: Counter;
  /** Bytes charged (bodies, headers, overhead). */
  readonly bytes: Gauge;
  /** Entries held. */
  readonly entries: Gauge;
  /** 1 when the tier may serve, 0 while the tombstone and damage sets are not current. */
  readonly usable: Gauge;

  /** @param registry where the metrics are registered */
  constructor(registry: Registry) {
    this.hits = registry.counter("des_gateway_cache_hits_total", "Reads answered by the tier");
    this.misses = registry.counter(
      "des_gateway_cache_misses_total",
      "Reads looked up in the tier and sent to the retriever",
    );
    this.evictions = registry.counter(
      "des_gateway_cache_evictions_total",
      "Tier entries evicted by the size bound",
    );
    this.bytes = registry.gauge("des_gateway_cache_bytes", "Bytes held by the tier");
    this.entries = registry.gauge("des_gateway_cache_entries", "Files held by the tier");
    this.usable = registry.gauge(
      "des_gateway_cache_usable",
      "1 when the tier serves, 0 while deletes and damage are not followed",
    );
  }
}

/** Options of {@linkcode GatewayByteTier}. */
export interface GatewayByteTierOptions {
  /** Budget in bytes (> 0). */
  maxBytes: number;
  /** Whether the tier may serve, and which names it must not. */
  guard: TierGuard;
  /** Registry to add the metrics to (default: a new one). */
  registry?: Registry;
}

/** The tier; see the module documentation. */
export class GatewayByteTier {
  /** Its metrics. */
  readonly metrics: ByteTierMetrics;
  readonly #guard: TierGuard;
  readonly #entries: LruCache<string, TierEntry>;
  readonly #limit: number;
  readonly #admission: SecondHitAdmission;

  /** @param options budget, guard and registry */
  constructor(options: GatewayByteTierOptions) {
    const registry = options.registry ?? new Registry();
    const metrics = this.metrics = new ByteTierMetrics(registry);
    this.#guard = options.guard;
    this.#limit = Math.min(TIER_ENTRY_LIMIT, Math.floor(options.maxBytes / 8));
    this.#entries = new LruCache<string, TierEntry>({
      maxEntries: Number.MAX_SAFE_INTEGER,
      maxWeight: options.maxBytes,
      weigh: weightOf,
      onEvict: () => metrics.evictions.inc(),
    });
    // About one remembered miss per 4 KiB of budget, as the retriever's byte cache.
    const remembered = Math.max(4096, Math.floor(options.maxBytes / 4096));
    this.#admission = new SecondHitAdmission(Math.min(remembered, 1 << 20));
    options.guard.follow({ drop: (name) => this.drop(name), flush: () => this.flush() });
    registry.onCollect(() => {
      metrics.bytes.set(this.bytes);
      metrics.entries.set(this.size);
      metrics.usable.set(this.#guard.usable() ? 1 : 0);
    });
  }

  /** Bytes charged for what is held. */
  get bytes(): number {
    return this.#entries.weight;
  }

  /** Files held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The answer to a GET or HEAD of `name` from memory (dressed by `style`),
   * or undefined: the read goes to `retriever`.
   */
  answer(
    method: "GET" | "HEAD",
    name: string,
    headers: HeaderSource,
    instance: string,
    retriever: string,
    style: ResponseStyle,
  ): Response | undefined {
    const guard = this.#guard;
    if (!guard.usable() || guard.blocked(name)) return undefined;
    const entry = this.#entries.get(name);
    if (!entry || entry.retriever !== retriever) {
      if (entry) this.drop(name);
      this.metrics.misses.inc();
      return undefined;
    }
    this.metrics.hits.inc();
    const plan = planRepresentation(
      method,
      headers,
      entry.file,
      instance,
      style,
      () => entry.headers,
    );
    if (plan.done) return plan.done;
    const { offset, length } = plan.range;
    const body = length === entry.body.byteLength
      ? entry.body
      : entry.body.subarray(offset, offset + length);
    return new Response(body, { status: plan.status, headers: plan.headers });
  }

  /** Whether the retriever's answer to this missed read is to be kept (its second miss). */
  ticket(method: "GET" | "HEAD" | "DELETE", name: string): FillTicket | undefined {
    const guard = this.#guard;
    if (method !== "GET" || !guard.usable() || guard.blocked(name)) return undefined;
    return this.#admission.admit(name) ? { name, epoch: guard.epoch } : undefined;
  }

  /**
   * Learn from a retriever's answer about `name` (already dressed): drop a
   * kept entry it contradicts, and with a `ticket` keep a plain 200 that
   * can be answered identically. Returns the response to send.
   */
  async learn(
    name: string,
    meta: boolean,
    response: Response,
    retriever: string,
    style: ResponseStyle,
    ticket?: FillTicket,
  ): Promise<Response> {
    const kept = this.#entries.get(name);
    if (
      kept && (!CONSISTENT.has(response.status) || (!meta && etagDiffers(response, kept)))
    ) {
      this.drop(name);
    }
    if (!ticket || response.status !== 200 || meta) return response;
    const file = representationFrom(name, response.headers);
    if (!file || file.rep.size > this.#limit) return response;
    const expected = new Headers(fileHeaders(file, file.rep.size));
    style.decorate(expected);
    if (!sameHeaders(expected, response.headers)) return response;
    const body = new Uint8Array(await response.arrayBuffer());
    const guard = this.#guard;
    if (
      body.byteLength === file.rep.size && guard.usable() && guard.epoch === ticket.epoch &&
      !guard.blocked(name)
    ) {
      this.#entries.set(name, { retriever, file, body, headers: expected });
    }
    return new Response(body, { status: 200, headers: response.headers });
  }

  /** `name` was deleted through this gateway (its retriever answered 204). */
  deleted(name: string, shard: number): void {
    this.#guard.deleted(name, shard);
    this.drop(name);
  }

  /** Forget `name`. */
  drop(name: string): void {
    this.#entries.delete(name);
  }

  /** Forget everything. */
  flush(): void {
    this.#entries.clear();
  }
}

/** Whether `response` names another ETag than the kept entry's. */
function etagDiffers(response: Response, kept: TierEntry): boolean {
  const etag = response.headers.get("etag");
  return etag !== null && etag !== kept.file.validators.etag;
}

/** The representation a retriever's 200 describes, or undefined when it lacks a validator. */
function representationFrom(name: string, headers: Headers): FileRepresentation | undefined {
  const etagText = headers.get("etag");
  const lastModifiedText = headers.get("last-modified");
  const cacheControl = headers.get("cache-control");
  const contentType = headers.get("content-type");
  const length = headers.get("content-length");
  if (
    etagText === null || lastModifiedText === null || cacheControl === null ||
    contentType === null || length === null || !/^\d+$/.test(length)
  ) {
    return undefined;
  }
  const etag = parseEntityTag(etagText);
  const lastModified = parseHttpDate(lastModifiedText);
  if (!etag || etag.weak || lastModified === undefined) return undefined;
  return {
    name,
    rep: { etag, lastModified, size: Number(length) },
    validators: {
      "etag": etagText,
      "last-modified": lastModifiedText,
      "cache-control": cacheControl,
    },
    contentType,
  };
}

/** Whether `a` and `b` carry the same headers, `Date` (set by each server) aside. */
function sameHeaders(a: Headers, b: Headers): boolean {
  const texts = (h: Headers) => [...h].filter(([k]) => k !== "date").map(([k, v]) => `${k}:${v}`);
  const x = texts(a);
  const y = texts(b);
  return x.length === y.length && x.every((line, i) => line === y[i]);
}

function weightOf(entry: TierEntry): number {
  let chars = 0;
  for (const [k, v] of entry.headers) chars += k.length + v.length;
  return entry.body.byteLength + 2 * chars + TIER_ENTRY_OVERHEAD;
}
