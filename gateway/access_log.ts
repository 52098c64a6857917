/**
 * What the gateway records of each request once the server reports its
 * response delivered (or given up): one JSON log line, the request
 * metrics, and — for audited operations — one audit row with clean values.
 * Nothing here delays the response.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { Logger } from "../core/log.ts";
import type { AuditTrail } from "./audit.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** What {@linkcode accessLog} writes to. */
export interface AccessLogTargets {
  /** Request metrics. */
  metrics: GatewayMetrics;
  /** The log. */
  log: Logger;
  /** The audit trail, for operations marked `audited`. */
  audit?: AuditTrail;
}

/** Log, measure and audit every request after its response. */
export function accessLog(targets: AccessLogTargets): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    await next();
    const route = c.get("operation");
    const started = c.get("started");
    const response = c.res;
    const method = c.req.method;
    const seconds = (performance.now() - started) / 1000;
    targets.metrics.requests.inc({ route: route.operationId, status: response.status });
    targets.metrics.latency.observe(seconds, { route: route.operationId });
    const finish = (outcome: "complete" | "interrupted") => {
      const sent = method === "GET" && response.status !== 304 && outcome === "complete";
      const bytes = sent ? Number(response.headers.get("content-length") ?? 0) : 0;
      const trace = c.get("trace");
      targets.metrics.bytes.inc({ route: route.operationId }, bytes);
      targets.metrics.duration.observe((performance.now() - started) / 1000, {
        route: route.operationId,
      });
      if (route.audited) {
        targets.audit?.record({
          at: new Date(),
          method,
          route: route.operationId,
          name: c.get("name"),
          status: response.status,
          bytes,
          client: c.get("client"),
          traceId: trace.traceId,
        });
      }
      const failure = c.get("failure");
      const fields = {
        method,
        path: new URL(c.req.url).pathname.slice(0, 200),
        route: route.operationId,
        status: response.status,
        bytes,
        outcome,
        retriever: c.get("retriever"),
        client: c.get("client"),
        traceId: trace.traceId,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ...(failure !== undefined && response.status >= 500 ? { error: failure } : {}),
      };
      // Probes and scrapes come every few seconds (and report their own failures): debug lines.
      if (route.tag === "operations") targets.log.debug("request", fields);
      else if (response.status >= 500) targets.log.warn("request", fields);
      else targets.log.info("request", fields);
    };
    const completed = c.env?.completed;
    if (completed) completed.then(() => finish("complete"), () => finish("interrupted"));
    else finish("complete");
  };
}
