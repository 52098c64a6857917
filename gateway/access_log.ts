/**
 * What the gateway records of each request once the server reports its
 * response delivered (or given up): one JSON log line, the request
 * metrics, and — for audited operations — one audit row with clean values.
 * Nothing here delays the response. {@linkcode recordRequest} is the one
 * implementation; the Hono middleware and the `/files` fast path both call it.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { bodyLength } from "../core/body_length.ts";
import type { Logger } from "../core/log.ts";
import type { TraceContext } from "../core/trace.ts";
import type { AuditTrail } from "./audit.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { RouteDoc } from "./routes.ts";

/** What {@linkcode accessLog} writes to. */
export interface AccessLogTargets {
  /** Request metrics. */
  metrics: GatewayMetrics;
  /** The log. */
  log: Logger;
  /** The audit trail, for operations marked `audited`. */
  audit?: AuditTrail;
}

/** The facts of one request the access log, metrics and audit need. */
export interface RequestRecord {
  /** The operation served. */
  route: RouteDoc;
  /** `performance.now()` when the request arrived. */
  started: number;
  /** Request method. */
  method: string;
  /** Request path (no query). */
  path: string;
  /** The gateway's span. */
  trace: TraceContext;
  /** Who the client is: the key id, else the address. */
  client: string;
  /** The DES name once parsed, else the raw path segment. */
  name: string;
  /** Retriever that answered, if any. */
  retriever?: string;
  /** The error behind an error response. */
  failure?: unknown;
}

/**
 * Count `response` now (status, time to headers) and, once `completed`
 * settles (at once without it), its bytes and duration, the audit row and
 * the log line.
 */
export function recordRequest(
  targets: AccessLogTargets,
  record: RequestRecord,
  response: Response,
  completed?: Promise<void>,
): void {
  const { route, started, method } = record;
  const series = targets.metrics.route(route.operationId);
  const status = response.status;
  series.requests(status).inc();
  series.latency.observe((performance.now() - started) / 1000);
  const finish = (outcome: "complete" | "interrupted") => {
    const sent = method === "GET" && status !== 304 && outcome === "complete";
    const bytes = sent ? bodyLength(response) : 0;
    const ms = performance.now() - started;
    series.bytes.inc(bytes);
    series.duration.observe(ms / 1000);
    if (route.audited) {
      targets.audit?.record({
        at: new Date(),
        method,
        route: route.operationId,
        name: record.name,
        status,
        bytes,
        client: record.client,
        traceId: record.trace.traceId,
      });
    }
    // Probes and scrapes come every few seconds (and report their own failures): debug lines.
    const level = route.tag === "operations" ? "debug" : status >= 500 ? "warn" : "info";
    if (!targets.log.enabled(level)) return;
    const failure = record.failure;
    targets.log.log(level, "request", {
      method,
      path: record.path.slice(0, 200),
      route: route.operationId,
      status,
      bytes,
      outcome,
      retriever: record.retriever,
      client: record.client,
      traceId: record.trace.traceId,
      ms: Math.round(ms * 10) / 10,
      ...(failure !== undefined && status >= 500 ? { error: failure } : {}),
    });
  };
  if (completed) completed.then(() => finish("complete"), () => finish("interrupted"));
  else finish("complete");
}

/** Log, measure and audit every request after its response. */
export function accessLog(targets: AccessLogTargets): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    await next();
    const response = c.res;
    recordRequest(
      targets,
      {
        route: c.get("operation"),
        started: c.get("started"),
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        trace: c.get("trace"),
        client: c.get("client"),
        name: c.get("name"),
        retriever: c.get("retriever"),
        failure: c.get("failure"),
      },
      response,
      c.env?.completed,
    );
  };
}
