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
import { childTrace, parseTraceparent } from "../core/trace.ts";
import { type Cidr, clientAddress } from "./client_address.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import type { RouteDoc } from "./routes.ts";

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
    // With OpenTelemetry on, Deno's server span already continues the caller's traceparent.
    c.set(
      "trace",
      activeTrace() ?? childTrace(parseTraceparent(c.req.header("traceparent") ?? null)),
    );
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
