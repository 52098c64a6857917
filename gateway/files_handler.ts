/**
 * The gateway's `/files` handler (reads, and the `admin` delete), after the edge middleware has traced,
 * rate-limited and authorized the request: parse the name (400 before any
 * lookup), find the one retriever that owns its shard, forward, and stream
 * its answer back unbuffered. Request headers are passed on from an allow
 * list (an oversized `Range` is dropped, not forwarded); a retriever's 5xx
 * is answered with a generic problem so its details stay inside.
 *
 * @module
 */

import type { Context } from "hono";
import { DesUnavailableError } from "../core/errors.ts";
import { type HeaderSource, MAX_RANGE_HEADER_LENGTH } from "../core/http_range.ts";
import type { Logger } from "../core/log.ts";
import { LogThrottle } from "../core/log_throttle.ts";
import { CLIENT_HEADER, PROBLEM_HEADER, RETRIEVER_HEADER } from "../core/read_path.ts";
import { parseFilesPath } from "../core/read_path.ts";
import { formatTraceparent, type TraceContext } from "../core/trace.ts";
import { type NameFormat, parseName } from "../naming/mod.ts";
import { applyEdgeHeaders } from "./edge_headers.ts";
import { genericServerProblem, RETRY_AFTER_UNAVAILABLE } from "./edge_problem.ts";
import type { GatewayByteTier } from "./byte_tier.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import { publicMetaView } from "./meta_view.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { RoutingTable } from "./routing_table.ts";
import type { ResponseStyle, RetrieverTarget } from "./target.ts";

/** Request headers passed on to the retriever. */
export const FORWARDED_HEADERS = [
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "accept",
  "tracestate",
] as const;

/** Longest value of any forwarded header; a longer one is dropped (the request goes on without it). */
export const MAX_FORWARDED_HEADER_LENGTH = 2048;

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
];

/** What the `/files` handler needs. */
export interface FilesHandlerOptions {
  /** The current routing table (may change between requests). */
  routing: () => RoutingTable<RetrieverTarget>;
  /** Shard bits and name prefix. */
  nameFormat: NameFormat;
  /** Whether the caller may see the full metadata (container key, parent attributes). */
  fullMeta: (c: Context<GatewayEnv>) => boolean;
  /** Metrics. */
  metrics: GatewayMetrics;
  /** Log. */
  log: Logger;
  /** API keys configured (edge headers of in-process answers). */
  keysOn?: boolean;
  /** The gateway's byte tier of hot small files (`DES_GATEWAY_CACHE_BYTES`), if any. */
  tier?: GatewayByteTier;
}

/** One `/files` call: what the handler reads, and what it learns for the access log. */
export interface FileCall {
  /** `GET`, `HEAD` or (admin) `DELETE`. */
  method: "GET" | "HEAD" | "DELETE";
  /** Request path (no query). */
  path: string;
  /** The gateway's span. */
  trace: TraceContext;
  /** Who the client is. */
  client: string;
  /** The name, once parsed. */
  name?: string;
  /** The retriever it was routed to. */
  retriever?: string;
  /** Why a 5xx was answered. */
  failure?: unknown;
}

/**
 * Serve `/files/{name}` and `/files/{name}/meta` calls: parse, route,
 * forward (or, for a target in the same process, read directly), and make a
 * retriever's 5xx generic. Every answer carries the edge headers. Shared by
 * the Hono handler and the fast path.
 */
export class FileServer {
  readonly #options: FilesHandlerOptions;
  // An unavailable retriever fails every request routed to it: a few lines per retriever and
  // window, with the count of the rest, instead of one line per request.
  readonly #unavailable: LogThrottle;
  readonly #styles = new Map<string, ResponseStyle>();
  readonly #keysOn: boolean;

  /** @param options routing, name format, metrics, log */
  constructor(options: FilesHandlerOptions) {
    this.#options = options;
    this.#keysOn = options.keysOn ?? false;
    this.#unavailable = new LogThrottle(options.log);
  }

  /**
   * Answer `call` for the file named in its path (`meta`: its metadata, as
   * the retriever sends it). Sync for a hot file of a target in the same
   * process; throws the typed error of a bad name or an unavailable retriever.
   */
  serve(call: FileCall, headers: Headers, meta: boolean): Response | Promise<Response> {
    const parsed = parseFilesPath(call.path);
    const { shard } = parseName(parsed.name, this.#options.nameFormat);
    call.name = parsed.name;
    const target = this.#options.routing().ownerOf(shard);
    call.retriever = target.id;
    const method = call.method;
    if (target.read && !meta && method !== "DELETE") {
      const answer = target.read({
        method,
        name: parsed.name,
        shard,
        path: call.path,
        headers: forwardedView(headers),
        trace: call.trace,
        clientId: call.client,
        style: this.#styleOf(target.id),
      });
      if (answer instanceof Response) return this.#checked(call, target, answer);
      return answer.then((r) => this.#checked(call, target, r), (e) => this.#failed(target, e));
    }
    const tier = this.#options.tier;
    if (tier && !meta && method !== "DELETE") {
      const style = this.#styleOf(target.id);
      const hit = tier.answer(
        method,
        parsed.name,
        forwardedView(headers),
        call.path,
        target.id,
        style,
      );
      if (hit) return hit;
    }
    return this.#forward(call, target, headers, meta, shard);
  }

  async #forward(
    call: FileCall,
    target: RetrieverTarget,
    headers: Headers,
    meta: boolean,
    shard: number,
  ): Promise<Response> {
    const tier = this.#options.tier;
    const name = call.name!;
    if (call.method === "DELETE") tier?.drop(name);
    const ticket = meta ? undefined : tier?.ticket(call.method, name);
    let upstream: Response;
    try {
      upstream = await target.forward({
        method: call.method,
        path: call.path,
        headers: forwardedHeaders(headers, call),
        trace: call.trace,
        clientId: call.client,
      });
    } catch (error) {
      return this.#failed(target, error);
    }
    const checked = this.#checked(call, target, upstream);
    if (checked !== upstream) {
      tier?.drop(name);
      return checked;
    }
    const response = passThrough(upstream, target.id, this.#keysOn);
    if (!tier) return response;
    if (call.method === "DELETE" && response.status === 204) tier.deleted(name, shard);
    return await tier.learn(name, meta, response, target.id, this.#styleOf(target.id), ticket);
  }

  /** A retriever's 5xx becomes a generic problem (its details stay inside). */
  #checked(call: FileCall, target: RetrieverTarget, upstream: Response): Response {
    if (upstream.status < 500) return upstream;
    upstream.body?.cancel().catch(() => {});
    call.failure = `retriever ${target.id} answered ${upstream.status}`;
    const problem = genericServerProblem(
      upstream.status,
      call.path,
      upstream.status === 503 ? RETRY_AFTER_UNAVAILABLE : undefined,
      upstream.headers.get(PROBLEM_HEADER),
    );
    applyEdgeHeaders(problem.headers, true, this.#keysOn);
    return problem;
  }

  #failed(target: RetrieverTarget, error: unknown): never {
    if (error instanceof DesUnavailableError) {
      this.#options.metrics.upstreamErrors.inc({ retriever: target.id });
      this.#unavailable.log("warn", target.id, "retriever unavailable", {
        retriever: target.id,
        error,
      });
    }
    throw error;
  }

  #styleOf(retriever: string): ResponseStyle {
    let style = this.#styles.get(retriever);
    if (!style) {
      const keysOn = this.#keysOn;
      style = {
        decorate: (h) => {
          applyEdgeHeaders(h, true, keysOn);
          if (!h.has(RETRIEVER_HEADER)) h.set(RETRIEVER_HEADER, retriever);
        },
      };
      this.#styles.set(retriever, style);
    }
    return style;
  }
}

/**
 * The `/files/{name}` and `/files/{name}/meta` handler of the Hono app. A
 * `DELETE` goes the same way as a read: to the retriever owning the name's
 * shard, which writes the tombstone (it has the catalog and the store of the
 * bytes).
 */
export function filesHandler(
  options: FilesHandlerOptions,
  files: FileServer = new FileServer(options),
): (c: Context<GatewayEnv>) => Promise<Response> {
  return async (c) => {
    const request = c.req.raw;
    const call: FileCall = {
      method: request.method === "HEAD" || request.method === "DELETE" ? request.method : "GET",
      path: new URL(request.url).pathname,
      trace: c.get("trace"),
      client: c.get("client"),
    };
    const meta = call.path.endsWith("/meta");
    let response: Response;
    try {
      response = await files.serve(call, request.headers, meta);
    } finally {
      if (call.name !== undefined) c.set("name", call.name);
      if (call.retriever !== undefined) c.set("retriever", call.retriever);
      if (call.failure !== undefined) c.set("failure", call.failure);
    }
    if (meta && response.status === 200 && !options.fullMeta(c)) {
      return await publicMetaView(response);
    }
    return response;
  };
}

/**
 * The forwarded header fields of a request for the hop: with `traceparent`,
 * and for a `DELETE` the client who asked.
 */
function forwardedHeaders(request: Headers, call: FileCall): [string, string][] {
  const view = forwardedView(request);
  const headers: [string, string][] = [];
  for (const h of FORWARDED_HEADERS) {
    const v = view.get(h);
    if (v !== null) headers.push([h, v]);
  }
  headers.push(["traceparent", formatTraceparent(call.trace)]);
  if (call.method === "DELETE" && call.client) headers.push([CLIENT_HEADER, call.client]);
  return headers;
}

const FORWARDED = new Set<string>(FORWARDED_HEADERS);

/**
 * The request's headers as a retriever may see them: only the allow list,
 * no value over {@linkcode MAX_FORWARDED_HEADER_LENGTH} (nor a `Range` over
 * `MAX_RANGE_HEADER_LENGTH`), and no `If-Range` without a `Range`. A view,
 * read lazily: nothing is copied.
 */
export function forwardedView(request: Headers): HeaderSource {
  const get = (name: string): string | null => {
    if (!FORWARDED.has(name)) return null;
    const v = request.get(name);
    if (v === null) return null;
    if (name === "range" && v.length > MAX_RANGE_HEADER_LENGTH) return null;
    if (v.length > MAX_FORWARDED_HEADER_LENGTH) return null;
    // Without a forwarded Range, an If-Range has nothing to guard.
    if (name === "if-range" && get("range") === null) return null;
    return v;
  };
  return { get };
}

/**
 * The retriever's answer without hop-by-hop headers, with the edge headers;
 * its headers are changed in place (see `RetrieverTarget.forward`).
 */
function passThrough(upstream: Response, retrieverId: string, keysOn: boolean): Response {
  const headers = upstream.headers;
  // Fields the retriever names in its Connection header are hop-by-hop too (RFC 9110 §7.6.1).
  const named = headers.get("connection");
  if (named !== null) {
    for (const token of named.split(",")) {
      const field = token.trim();
      if (field !== "") headers.delete(field);
    }
  }
  for (const h of HOP_BY_HOP) if (headers.has(h)) headers.delete(h);
  if (!headers.has(RETRIEVER_HEADER)) headers.set(RETRIEVER_HEADER, retrieverId);
  applyEdgeHeaders(headers, true, keysOn);
  return upstream;
}
