/**
 * The Hono environment of the gateway: what `Deno.serve` passes as
 * bindings, and the per-request variables the edge middleware sets
 * (`c.set`) for the handlers and middleware after it.
 *
 * @module
 */

import type { TraceContext } from "../core/trace.ts";
import type { ApiKey } from "./auth.ts";
import type { RouteDoc } from "./routes.ts";

/** Per-request values set by the edge middleware. */
export interface GatewayVariables {
  /** The operation being served. */
  operation: RouteDoc;
  /** `performance.now()` when the request arrived. */
  started: number;
  /** The gateway's span (continued from `traceparent` or new). */
  trace: TraceContext;
  /** Client address (the peer, or from forwarding headers of a trusted proxy). */
  address: string;
  /** The authenticated key, when keys are configured and one was presented. */
  key?: ApiKey;
  /** Who the client is in logs and the audit: the key id, else the address. */
  client: string;
  /** The requested DES name once it parsed, else the raw path segment. */
  name: string;
  /** Retriever that answered, if any. */
  retriever?: string;
  /** The error behind an error response, for the log. */
  failure?: unknown;
}

/** `Deno.serve`'s handler info, when the app runs under it. */
export type GatewayBindings = Partial<Deno.ServeHandlerInfo<Deno.NetAddr>>;

/** The gateway's Hono environment. */
export interface GatewayEnv {
  /** Connection info from `Deno.serve`. */
  Bindings: GatewayBindings;
  /** Per-request values. */
  Variables: GatewayVariables;
}
