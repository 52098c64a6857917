/**
 * The gateway as a Hono app. Every operation of the route table in
 * `routes.ts` is served through the same edge middleware, in this order:
 *
 * 1. edge headers (`nosniff`, sandboxing CSP, `private` caching with keys);
 * 2. request context: operation, trace, client address;
 * 3. access log, metrics and (for `/files`) the audit row;
 * 4. rate limit per address — before authentication, so wrong keys count;
 * 5. authentication and the route's scope (401 / 403);
 * 6. rate limit per key;
 * 7. with `DES_GATEWAY_AUDIT_REQUIRED`, a 503 when the read cannot be audited;
 *
 * then the handler: `/files` forwarding, `POST /names`, `/openapi.json`,
 * `/healthz`, `/readyz`, `/metrics`. `GET|HEAD /files/{name}` takes the same
 * steps as plain calls, without the router (`files_fast_path.ts`).
 *
 * @example
 * ```ts
 * const app = createGatewayApp({ routing: () => table, nameFormat: { shardBits: 8, prefix: "" } });
 * Deno.serve({ port: 8080 }, app.fetch);
 * ```
 *
 * @module
 */

import { Hono, type MiddlewareHandler } from "hono";
import { DesConfigError, DesNotFoundError } from "../core/errors.ts";
import { healthResponse, readinessResponse } from "../core/health.ts";
import { Logger } from "../core/log.ts";
import { METRICS_CONTENT_TYPE } from "../core/metrics.ts";
import { FILE_METHODS, META_METHODS } from "../core/read_path.ts";
import { type NameFormat, nameRegex } from "../naming/mod.ts";
import type { NameGenerator } from "../naming/name_generator.ts";
import { accessLog } from "./access_log.ts";
import type { AuditTrail } from "./audit.ts";
import type { GatewayByteTier } from "./byte_tier.ts";
import { requireAudit } from "./audit_gate.ts";
import type { ApiKey } from "./auth.ts";
import { callerHas, requireScope } from "./auth_middleware.ts";
import type { Cidr } from "./client_address.ts";
import { edgeHeaders } from "./edge_headers.ts";
import { DesMethodNotAllowedError, edgeProblem, shortPath } from "./edge_problem.ts";
import { filesFastPath } from "./files_fast_path.ts";
import { FileServer, filesHandler } from "./files_handler.ts";
import type { GatewayBindings, GatewayEnv } from "./gateway_env.ts";
import { GatewayMetrics } from "./metrics.ts";
import { namesHandler } from "./names_route.ts";
import { openApiDocument } from "./openapi.ts";
import type { TokenBucketLimiter } from "./rate_limit.ts";
import { limitByAddress, limitByKey } from "./rate_limit_middleware.ts";
import { GatewayReadiness } from "./readiness.ts";
import { requestContext } from "./request_context.ts";
import { GATEWAY_ROUTES, honoPath, NAMES_ROUTE, type RouteDoc } from "./routes.ts";
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
  /** Rate limiter per API key (`DES_GATEWAY_RATE_LIMIT`). */
  rateLimiter?: TokenBucketLimiter;
  /** Rate limiter per client address, applied before authentication. */
  addressRateLimiter?: TokenBucketLimiter;
  /** Proxies whose forwarding headers name the client (`DES_GATEWAY_TRUSTED_PROXIES`). */
  trustedProxies?: readonly Cidr[];
  /** Read audit trail. */
  audit?: AuditTrail;
  /** Refuse reads with 503 when the audit cannot record them (`DES_GATEWAY_AUDIT_REQUIRED`). */
  auditRequired?: boolean;
  /** Serve `POST /names` from this generator. */
  names?: NameGenerator;
  /** Metrics (default: a new registry). */
  metrics?: GatewayMetrics;
  /** Logger (default: component `gateway`). */
  log?: Logger;
  /** Version in the OpenAPI document. */
  version?: string;
  /** Byte tier of hot small files, answering without the hop (`DES_GATEWAY_CACHE_BYTES`). */
  tier?: GatewayByteTier;
}

type Handler = (c: Parameters<MiddlewareHandler<GatewayEnv>>[0]) => Response | Promise<Response>;

/** Build the gateway app. */
export function createGatewayApp(options: GatewayOptions): Hono<GatewayEnv> {
  const routing = typeof options.routing === "function"
    ? options.routing
    : ((table) => () => table)(options.routing);
  const metrics = options.metrics ?? new GatewayMetrics();
  const log = options.log ?? new Logger("gateway");
  const keys = options.apiKeys ?? [];
  if (options.auditRequired && !options.audit) {
    throw new DesConfigError("reads cannot be required to be audited without an audit trail");
  }
  const routes = options.names ? [...GATEWAY_ROUTES, NAMES_ROUTE] : [...GATEWAY_ROUTES];
  const openapi = JSON.stringify(openApiDocument(routes, {
    version: options.version ?? "1.0.0",
    authEnabled: keys.length > 0,
    namePattern: nameRegex(options.nameFormat).source,
  }));
  const readiness = new GatewayReadiness(
    routing,
    options.auditRequired ? options.audit : undefined,
  );
  const filesOptions = {
    routing,
    nameFormat: options.nameFormat,
    fullMeta: (c: Parameters<Handler>[0]) => callerHas(c, keys, "admin"),
    metrics,
    log,
    keysOn: keys.length > 0,
    tier: options.tier,
  };
  const fileServer = new FileServer(filesOptions);
  const files = filesHandler(filesOptions, fileServer);
  const handlers: Record<string, Handler> = {
    getFile: files,
    headFile: files,
    deleteFile: files,
    getFileMeta: files,
    getOpenApi: () => new Response(openapi, { headers: { "content-type": "application/json" } }),
    getHealth: () => healthResponse(),
    getReady: async (c) => readinessResponse(await readiness.check(), callerHas(c, keys, "admin")),
    getMetrics: () =>
      new Response(metrics.registry.render(), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      }),
    ...(options.names ? { postNames: namesHandler(options.names) } : {}),
  };
  const edge = (route: RouteDoc): MiddlewareHandler<GatewayEnv>[] => {
    const chain = [
      requestContext(
        route,
        options.trustedProxies ?? [],
        routes.find((r) => r.method === "head" && r.path === route.path),
      ),
      accessLog({ metrics, log, audit: options.audit }),
    ];
    if (!route.scope) return chain;
    if (options.addressRateLimiter) chain.push(limitByAddress(options.addressRateLimiter));
    chain.push(requireScope(keys, route.scope));
    if (options.rateLimiter) chain.push(limitByKey(options.rateLimiter));
    if (route.audited && options.auditRequired && options.audit) {
      chain.push(requireAudit(options.audit, metrics));
    }
    return chain;
  };

  const app = new Hono<GatewayEnv>();
  // Hono's typed overloads cannot take a computed middleware chain; the handlers are typed above.
  const on = app.on.bind(app) as unknown as (
    method: string | string[],
    path: string,
    ...handlers: (MiddlewareHandler<GatewayEnv> | Handler)[]
  ) => void;
  app.use("*", edgeHeaders(keys.length > 0));
  for (const route of routes) {
    const handler = handlers[route.operationId];
    if (!handler) {
      throw new DesConfigError(`no handler for operation ${route.operationId}`, {
        operationId: route.operationId,
      });
    }
    // Hono answers HEAD with the GET handler of the same path (the handler sees method HEAD).
    if (route.method === "head") continue;
    on(route.method.toUpperCase(), honoPath(route.path), ...edge(route), handler);
  }
  const methodNotAllowed: Handler = (c) => {
    const meta = c.req.path.endsWith("/meta");
    throw new DesMethodNotAllowedError(c.req.method, meta ? META_METHODS : FILE_METHODS);
  };
  const notAllowed: RouteDoc = { ...GATEWAY_ROUTES[0], operationId: "fileMethodNotAllowed" };
  for (
    const [path, methods] of [
      ["/files/:name", ["POST", "PUT", "PATCH", "OPTIONS"]],
      ["/files/:name/meta", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]],
    ] as const
  ) {
    on([...methods], path, ...edge(notAllowed).slice(0, 2), methodNotAllowed);
  }
  app.notFound((c) =>
    edgeProblem(new DesNotFoundError(`no route ${shortPath(c.req.path)}`), c.req.path)
  );
  app.onError((error, c) => {
    c.set("failure", error);
    return edgeProblem(error, c.req.path);
  });
  // Reads refused while the audit is down keep the Hono chain (its audit gate).
  if (!options.auditRequired) {
    const fast = filesFastPath({
      files: fileServer,
      routes: {
        get: routes.find((r) => r.operationId === "getFile")!,
        head: routes.find((r) => r.operationId === "headFile")!,
      },
      keys,
      rateLimiter: options.rateLimiter,
      addressRateLimiter: options.addressRateLimiter,
      trustedProxies: options.trustedProxies ?? [],
      access: { metrics, log, audit: options.audit },
    });
    const routed = app.fetch;
    app.fetch = (request, env, ctx) =>
      fast(request, env as GatewayBindings) ?? routed(request, env, ctx);
  }
  return app;
}
