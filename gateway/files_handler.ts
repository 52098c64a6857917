/**
 * The gateway's `/files` path: authenticate, rate-limit, validate the name
 * (400 before any lookup), compute the shard, forward to the one retriever
 * that owns it, and stream its answer back unbuffered. Each request gets a
 * W3C trace (continued from `traceparent` or new), one JSON log line, and
 * one audit row, written when the response has been delivered.
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { childTrace, formatTraceparent, parseTraceparent } from "../core/trace.ts";
import { type NameFormat, parseName } from "../naming/mod.ts";
import { RETRIEVER_HEADER } from "../core/read_path.ts";
import { asDesError, problemResponse } from "../core/problem.ts";
import { parseFilesPath } from "../core/read_path.ts";
import type { AuditTrail } from "./audit.ts";
import { type ApiKey, authenticate } from "./auth.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { DesRateLimitedError, type TokenBucketLimiter } from "./rate_limit.ts";
import type { RoutingTable } from "./routing_table.ts";
import type { RetrieverTarget } from "./target.ts";

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
  /** API keys; empty = no authentication. */
  apiKeys: readonly ApiKey[];
  /** Per-client rate limit, if any. */
  rateLimiter?: TokenBucketLimiter;
  /** Audit trail, if any. */
  audit?: AuditTrail;
  /** Metrics. */
  metrics: GatewayMetrics;
  /** Access log. */
  log: Logger;
}

/** Seconds a client should wait after a 503 from an unavailable retriever. */
export const RETRY_AFTER_UNAVAILABLE = "5";

/** The client side of a request, as the HTTP server reports it. */
export interface ClientConnection {
  /** Client address: the rate-limit key when there are no API keys. */
  address: string;
  /** Settles when the response has been delivered (resolves) or could not be (rejects). */
  completed?: Promise<void>;
}

/**
 * Serve one `/files/...` request. The retriever's body is handed to the
 * server as it is (no copy, no wrapper stream), and the log line, metrics
 * and audit row are written when `connection.completed` settles; `bytes`
 * is the response's `Content-Length` when delivered, 0 when interrupted.
 */
export async function handleFiles(
  request: Request,
  options: FilesHandlerOptions,
  connection: ClientConnection,
): Promise<Response> {
  const peer = connection.address;
  const started = performance.now();
  const url = new URL(request.url);
  const method = request.method === "HEAD" ? "HEAD" : "GET";
  const trace = childTrace(parseTraceparent(request.headers.get("traceparent")));
  let client = peer;
  let route = "getFile";
  let name = "";
  let retriever: string | undefined;
  let response: Response;
  try {
    const parsed = parseFilesPath(url.pathname);
    name = parsed.name;
    route = parsed.meta ? "getFileMeta" : method === "HEAD" ? "headFile" : "getFile";
    if (options.apiKeys.length > 0) {
      client = authenticate(request.headers.get("authorization"), options.apiKeys);
    }
    options.rateLimiter?.take(client, Date.now());
    const { shard } = parseName(name, options.nameFormat);
    const target = options.routing().ownerOf(shard);
    retriever = target.id;
    const upstream = await forward(target, request, method, url, trace, client, options);
    response = passThrough(upstream, target.id);
  } catch (error) {
    response = errorResponse(error, url.pathname);
  }
  const seconds = (performance.now() - started) / 1000;
  options.metrics.requests.inc({ route, status: response.status });
  options.metrics.latency.observe(seconds, { route });
  const finish = (outcome: "complete" | "interrupted") => {
    const sent = method === "GET" && response.status !== 304 && outcome === "complete";
    const bytes = sent ? Number(response.headers.get("content-length") ?? 0) : 0;
    options.metrics.bytes.inc({ route }, bytes);
    options.metrics.duration.observe((performance.now() - started) / 1000, { route });
    options.audit?.record({
      at: new Date(),
      name,
      status: response.status,
      bytes,
      client,
      traceId: trace.traceId,
    });
    options.log.info("request", {
      method,
      path: url.pathname,
      route,
      status: response.status,
      bytes,
      outcome,
      retriever,
      client,
      traceId: trace.traceId,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  };
  if (connection.completed) {
    connection.completed.then(() => finish("complete"), () => finish("interrupted"));
  } else {
    finish("complete");
  }
  return response;
}

async function forward(
  target: RetrieverTarget,
  request: Request,
  method: "GET" | "HEAD",
  url: URL,
  trace: ReturnType<typeof childTrace>,
  client: string,
  options: FilesHandlerOptions,
): Promise<Response> {
  const headers = new Headers();
  for (const h of FORWARDED_HEADERS) {
    const v = request.headers.get(h);
    if (v !== null) headers.set(h, v);
  }
  headers.set("traceparent", formatTraceparent(trace));
  try {
    return await target.forward({
      method,
      path: url.pathname,
      headers,
      trace,
      clientId: client,
    });
  } catch (error) {
    if (error instanceof DesUnavailableError) {
      options.metrics.upstreamErrors.inc({ retriever: target.id });
      options.log.warn("retriever unavailable", { retriever: target.id, error });
    }
    throw error;
  }
}

function passThrough(upstream: Response, retrieverId: string): Response {
  const headers = new Headers(upstream.headers);
  for (const h of HOP_BY_HOP) headers.delete(h);
  if (!headers.has(RETRIEVER_HEADER)) headers.set(RETRIEVER_HEADER, retrieverId);
  return new Response(upstream.body, { status: upstream.status, headers });
}

function errorResponse(error: unknown, path: string): Response {
  const e = asDesError(error);
  const headers: Record<string, string> = {};
  if (e.status === 401) headers["www-authenticate"] = 'Bearer realm="des"';
  if (error instanceof DesRateLimitedError) {
    headers["retry-after"] = String(error.retryAfterSeconds);
  }
  if (e.status === 503) headers["retry-after"] = RETRY_AFTER_UNAVAILABLE;
  return problemResponse(e, path, headers);
}
