/**
 * The gateway as a Hono app: every operation of the route table in
 * `routes.ts` mapped to its handler — `/files` forwarding, `/openapi.json`,
 * `/healthz`, `/readyz`, `/metrics`.
 *
 * @example
 * ```ts
 * const app = createGatewayApp({ routing: () => table, nameFormat: { shardBits: 8, prefix: "" } });
 * Deno.serve({ port: 8080 }, app.fetch);
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import { DesConfigError, DesNotFoundError, DesUnavailableError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { METRICS_CONTENT_TYPE } from "../core/metrics.ts";
import { type NameFormat, nameRegex } from "../naming/mod.ts";
import { problemResponse } from "../core/problem.ts";
import type { AuditTrail } from "./audit.ts";
import type { ApiKey } from "./auth.ts";
import { type ClientConnection, type FilesHandlerOptions, handleFiles } from "./files_handler.ts";
import { GatewayMetrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import type { TokenBucketLimiter } from "./rate_limit.ts";
import { GATEWAY_ROUTES, honoPath } from "./routes.ts";
import type { RoutingTable } from "./routing_table.ts";
import type { RetrieverTarget } from "./target.ts";

/** Options of {@linkcode createGatewayApp}. */
export interface GatewayOptions {
  /** The routing table, or a function returning the current one. */
  routing: RoutingTable<RetrieverTarget> | (() => RoutingTable<RetrieverTarget>);
  /** Shard bits and name prefix. */
  nameFormat: NameFormat;
  /** API keys (`DES_GATEWAY_API_KEYS`); empty or omitted = open. */
  apiKeys?: readonly ApiKey[];
  /** Per-client rate limiter (`DES_GATEWAY_RATE_LIMIT`). */
  rateLimiter?: TokenBucketLimiter;
  /** Read audit trail. */
  audit?: AuditTrail;
  /** Metrics (default: a new registry). */
  metrics?: GatewayMetrics;
  /** Logger (default: component `gateway`). */
  log?: Logger;
  /** Version in the OpenAPI document. */
  version?: string;
}

type Handler = (request: Request, connection: ClientConnection) => Response | Promise<Response>;

/** Build the gateway app. */
export function createGatewayApp(options: GatewayOptions): Hono {
  const routing = typeof options.routing === "function"
    ? options.routing
    : ((table) => () => table)(options.routing);
  const metrics = options.metrics ?? new GatewayMetrics();
  const files: FilesHandlerOptions = {
    routing,
    nameFormat: options.nameFormat,
    apiKeys: options.apiKeys ?? [],
    rateLimiter: options.rateLimiter,
    audit: options.audit,
    metrics,
    log: options.log ?? new Logger("gateway"),
  };
  const openapi = JSON.stringify(openApiDocument(GATEWAY_ROUTES, {
    version: options.version ?? "1.0.0",
    authEnabled: files.apiKeys.length > 0,
    namePattern: nameRegex(options.nameFormat).source,
  }));
  const readiness = new ReadinessCache(routing);
  const handlers: Record<string, Handler> = {
    getFile: (req, connection) => handleFiles(req, files, connection),
    headFile: (req, connection) => handleFiles(req, files, connection),
    getFileMeta: (req, connection) => handleFiles(req, files, connection),
    getOpenApi: () => new Response(openapi, { headers: { "content-type": "application/json" } }),
    getHealth: () => Response.json({ status: "ok" }),
    getReady: () => readiness.response(),
    getMetrics: () =>
      new Response(metrics.registry.render(), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      }),
  };
  const app = new Hono();
  for (const route of GATEWAY_ROUTES) {
    const handler = handlers[route.operationId];
    if (!handler) {
      throw new DesConfigError(`no handler for operation ${route.operationId}`, {
        operationId: route.operationId,
      });
    }
    // Hono answers HEAD with the GET handler of the same path (the handler sees method HEAD).
    if (route.method === "head") continue;
    app.get(honoPath(route.path), (c) => handler(c.req.raw, connectionOf(c.env)));
  }
  app.notFound((c) => problemResponse(new DesNotFoundError(`no route ${c.req.path}`), c.req.path));
  app.onError((error, c) => problemResponse(error, c.req.path));
  return app;
}

/** Client address and delivery promise from `Deno.serve`'s handler info (Hono's `env`). */
function connectionOf(env: unknown): ClientConnection {
  const info = env as Partial<Deno.ServeHandlerInfo<Deno.NetAddr>> | undefined;
  return { address: info?.remoteAddr?.hostname ?? "anonymous", completed: info?.completed };
}

/** Readiness of all retrievers, computed at most every 2 s. */
class ReadinessCache {
  #at = 0;
  #value?: Promise<Record<string, string>>;

  constructor(private readonly routing: () => RoutingTable<RetrieverTarget>) {}

  async response(): Promise<Response> {
    if (!this.#value || Date.now() - this.#at > 2000) {
      this.#at = Date.now();
      this.#value = this.#check();
    }
    const retrievers = await this.#value;
    const ready = Object.values(retrievers).every((v) => v === "ok");
    if (ready) return Response.json({ ready, retrievers });
    const failing = Object.entries(retrievers).filter(([, v]) => v !== "ok");
    const error = new DesUnavailableError(
      `not ready: ${failing.map(([id, why]) => `${id}: ${why}`).join("; ")}`,
      { retrievers },
    );
    return problemResponse(error, "/readyz", { "retry-after": "5" });
  }

  async #check(): Promise<Record<string, string>> {
    const targets = this.routing().owners;
    const states = await Promise.all(targets.map((t) => t.ready().catch((e) => String(e))));
    return Object.fromEntries(targets.map((t, i) => [t.id, states[i]]));
  }
}
