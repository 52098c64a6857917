/**
 * The fast path of `GET|HEAD /files/{name}`, the request a gateway serves
 * most: the same edge as the Hono chain of `app.ts` — trace, client
 * address, rate limit per address, authentication and the `read` scope,
 * rate limit per key, edge headers, problem details, access log, metrics
 * and audit — called as plain functions in the same order, with no router,
 * no per-request context object and no middleware promises. A hot file of
 * a retriever in the same process is answered without a single promise.
 *
 * It takes only what it can serve exactly as the Hono chain would: `GET` or
 * `HEAD` of `/files/<name>` whose name segment is plain (letters, digits,
 * `-`, `_`: nothing that URL normalization or percent-decoding could
 * change), and only when reads need not be refused while the audit is down
 * (`DES_GATEWAY_AUDIT_REQUIRED` keeps the Hono chain). Everything else —
 * `/meta`, other methods, odd paths — gets `undefined` and goes to Hono.
 *
 * @module
 */

import { type AccessLogTargets, recordRequest, type RequestRecord } from "./access_log.ts";
import { type ApiKey, authenticate, DesForbiddenError } from "./auth.ts";
import { addressKey, type Cidr, clientAddress } from "./client_address.ts";
import { applyEdgeHeaders } from "./edge_headers.ts";
import { edgeProblem } from "./edge_problem.ts";
import type { FileCall, FileServer } from "./files_handler.ts";
import type { GatewayBindings } from "./gateway_env.ts";
import type { TokenBucketLimiter } from "./rate_limit.ts";
import { requestTrace } from "./request_context.ts";
import type { RouteDoc } from "./routes.ts";

/** What the fast path needs (the same settings as the Hono chain). */
export interface FilesFastPathOptions {
  /** The `/files` server shared with the Hono handler. */
  files: FileServer;
  /** The `getFile` and `headFile` operations. */
  routes: { get: RouteDoc; head: RouteDoc };
  /** API keys; empty = open. */
  keys: readonly ApiKey[];
  /** Rate limiter per API key. */
  rateLimiter?: TokenBucketLimiter;
  /** Rate limiter per client address, before authentication. */
  addressRateLimiter?: TokenBucketLimiter;
  /** Proxies whose forwarding headers name the client. */
  trustedProxies: readonly Cidr[];
  /** Access log, metrics and audit. */
  access: AccessLogTargets;
}

/** A `fetch`-style handler that answers or declines (`undefined`). */
export type FastPath = (
  request: Request,
  info?: GatewayBindings,
) => Response | Promise<Response> | undefined;

/** A plain name segment: nothing for URL normalization or percent-decoding to change. */
const PLAIN_NAME = /^[A-Za-z0-9_-]+$/;
const FILES_PREFIX = "/files/";

/** The fast path; see the module documentation. */
export function filesFastPath(options: FilesFastPathOptions): FastPath {
  const { files, keys, rateLimiter, addressRateLimiter, trustedProxies, access } = options;
  const keysOn = keys.length > 0;
  return (request, info) => {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") return undefined;
    const path = pathOf(request.url);
    if (path === undefined || !path.startsWith(FILES_PREFIX)) return undefined;
    const segment = path.slice(FILES_PREFIX.length);
    if (!PLAIN_NAME.test(segment)) return undefined;
    const headers = request.headers;
    const address = clientAddress(
      info?.remoteAddr?.hostname ?? "anonymous",
      headers,
      trustedProxies,
    );
    const call: FileCall & RequestRecord = {
      route: method === "HEAD" ? options.routes.head : options.routes.get,
      started: performance.now(),
      method,
      path,
      trace: requestTrace(headers),
      client: address,
      name: segment,
    };
    const done = (response: Response) => {
      recordRequest(access, call, response, info?.completed);
      return response;
    };
    const failed = (error: unknown) => {
      call.failure = error;
      const problem = edgeProblem(error, path);
      applyEdgeHeaders(problem.headers, true, keysOn);
      return done(method === "HEAD" ? new Response(null, problem) : problem);
    };
    try {
      addressRateLimiter?.take(addressKey(address), Date.now());
      if (keysOn) {
        const key = authenticate(headers.get("authorization"), keys);
        call.client = key.id;
        if (!key.scopes.has("read")) throw new DesForbiddenError(key.id, "read");
        rateLimiter?.take(key.id, Date.now());
      }
      const answer = files.serve(call, headers, false);
      if (answer instanceof Response) return done(bodiless(answer, method));
      return answer.then((r) => done(bodiless(r, method)), failed);
    } catch (error) {
      return failed(error);
    }
  };
}

/**
 * The path of a request URL (`scheme://authority/path?query`) without
 * building a `URL`; undefined when there is none.
 */
function pathOf(url: string): string | undefined {
  const scheme = url.indexOf("://");
  if (scheme < 0) return undefined;
  const start = url.indexOf("/", scheme + 3);
  if (start < 0) return undefined;
  const query = url.indexOf("?", start);
  return url.slice(start, query >= 0 ? query : url.length);
}

/** HEAD answers never carry a body (a problem's is dropped, its headers kept). */
function bodiless(response: Response, method: string): Response {
  return method === "HEAD" && response.body !== null ? new Response(null, response) : response;
}
