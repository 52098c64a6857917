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
import { MAX_RANGE_HEADER_LENGTH } from "../core/http_range.ts";
import type { Logger } from "../core/log.ts";
import { LogThrottle } from "../core/log_throttle.ts";
import { CLIENT_HEADER, RETRIEVER_HEADER } from "../core/read_path.ts";
import { parseFilesPath } from "../core/read_path.ts";
import { formatTraceparent } from "../core/trace.ts";
import { type NameFormat, parseName } from "../naming/mod.ts";
import { genericServerProblem, RETRY_AFTER_UNAVAILABLE } from "./edge_problem.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import { publicMetaView } from "./meta_view.ts";
import type { GatewayMetrics } from "./metrics.ts";
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
}

/**
 * The `/files/{name}` and `/files/{name}/meta` handler. A `DELETE` goes the
 * same way as a read: to the retriever owning the name's shard, which
 * writes the tombstone (it has the catalog and the store of the bytes).
 */
export function filesHandler(
  options: FilesHandlerOptions,
): (c: Context<GatewayEnv>) => Promise<Response> {
  // An unavailable retriever fails every request routed to it: a few lines per retriever and
  // window, with the count of the rest, instead of one line per request.
  const unavailable = new LogThrottle(options.log);
  return async (c) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const method = request.method === "HEAD" || request.method === "DELETE"
      ? request.method
      : "GET";
    const parsed = parseFilesPath(url.pathname);
    const { shard } = parseName(parsed.name, options.nameFormat);
    c.set("name", parsed.name);
    const target = options.routing().ownerOf(shard);
    c.set("retriever", target.id);
    const upstream = await forward(c, target, method, url.pathname, options, unavailable);
    if (upstream.status >= 500) {
      await upstream.body?.cancel().catch(() => {});
      c.set("failure", `retriever ${target.id} answered ${upstream.status}`);
      return genericServerProblem(
        upstream.status,
        url.pathname,
        upstream.status === 503 ? RETRY_AFTER_UNAVAILABLE : undefined,
      );
    }
    const response = passThrough(upstream, target.id);
    if (parsed.meta && response.status === 200 && !options.fullMeta(c)) {
      return await publicMetaView(response);
    }
    return response;
  };
}

async function forward(
  c: Context<GatewayEnv>,
  target: RetrieverTarget,
  method: "GET" | "HEAD" | "DELETE",
  path: string,
  options: FilesHandlerOptions,
  unavailable: LogThrottle,
): Promise<Response> {
  const headers = new Headers();
  const incoming = c.req.raw.headers;
  for (const h of FORWARDED_HEADERS) {
    const v = incoming.get(h);
    if (v === null) continue;
    if (h === "range" && v.length > MAX_RANGE_HEADER_LENGTH) continue;
    if (v.length > MAX_FORWARDED_HEADER_LENGTH) continue;
    headers.set(h, v);
  }
  // Without a forwarded Range, an If-Range has nothing to guard.
  if (!headers.has("range")) headers.delete("if-range");
  const trace = c.get("trace");
  headers.set("traceparent", formatTraceparent(trace));
  const client = c.get("client");
  if (method === "DELETE" && client) headers.set(CLIENT_HEADER, client);
  try {
    return await target.forward({ method, path, headers, trace, clientId: c.get("client") });
  } catch (error) {
    if (error instanceof DesUnavailableError) {
      options.metrics.upstreamErrors.inc({ retriever: target.id });
      unavailable.log("warn", target.id, "retriever unavailable", { retriever: target.id, error });
    }
    throw error;
  }
}

/** The retriever's answer without hop-by-hop headers; its headers are changed in place (see `RetrieverTarget.forward`). */
function passThrough(upstream: Response, retrieverId: string): Response {
  const headers = upstream.headers;
  for (const h of HOP_BY_HOP) if (headers.has(h)) headers.delete(h);
  if (!headers.has(RETRIEVER_HEADER)) headers.set(RETRIEVER_HEADER, retrieverId);
  return upstream;
}
