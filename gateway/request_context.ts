/**
 * The first middleware of every gateway operation: records which operation
 * this is, when the request arrived, the trace (continued from a valid
 * `traceparent` or new) and the client address (through trusted proxies
 * only, see `client_address.ts`).
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { activeTrace } from "../core/spans.ts";
import type { HeaderSource } from "../core/http_range.ts";
import { childTrace, parseTraceparent, type TraceContext } from "../core/trace.ts";
import { type Cidr, clientAddress } from "./client_address.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import type { RouteDoc } from "./routes.ts";

/**
 * The gateway's span of a request: with OpenTelemetry on, the one Deno's
 * server span already continued from the caller's `traceparent`; else a
 * child of a valid `traceparent`, or a new trace.
 */
export function requestTrace(headers: HeaderSource): TraceContext {
  return activeTrace() ?? childTrace(parseTraceparent(headers.get("traceparent")));
}

/**
 * Set `operation`, `started`, `trace`, `address`, `client` and `name` for
 * `route` (or `headRoute` for a HEAD request, which Hono serves through the
 * GET route of the same path).
 */
export function requestContext(
  route: RouteDoc,
  trustedProxies: readonly Cidr[],
  headRoute?: RouteDoc,
): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    c.set("operation", c.req.method === "HEAD" && headRoute ? headRoute : route);
    c.set("started", performance.now());
    c.set("trace", requestTrace(c.req.raw.headers));
    const peer = c.env?.remoteAddr?.hostname ?? "anonymous";
    const address = clientAddress(peer, c.req.raw.headers, trustedProxies);
    c.set("address", address);
    c.set("client", address);
    // Until a handler parses the name, the audit sees the raw (percent-encoded) path segment.
    const path = new URL(c.req.url).pathname;
    c.set("name", path.startsWith("/files/") ? path.slice(7).replace(/\/meta$/, "") : "");
    await next();
  };
}
