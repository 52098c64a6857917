/**
 * Headers every gateway response carries, whatever produced it:
 *
 * - `X-Content-Type-Options: nosniff` — a browser must not guess a type;
 * - `Content-Security-Policy: sandbox; default-src 'none'` — archived HTML
 *   or SVG opened from the gateway runs no script and loads nothing, so it
 *   cannot act on the gateway's origin;
 * - with API keys on, `Cache-Control: public` becomes `private` and
 *   `Vary: Authorization` is added, so a shared cache or CDN never serves a
 *   protected file (or the fuller metadata of a more privileged key) to
 *   someone else.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { GatewayEnv } from "./gateway_env.ts";

/** The sandboxing policy of every response. */
export const CONTENT_SECURITY_POLICY = "sandbox; default-src 'none'";

/**
 * Add the edge headers to `headers` (idempotent: applying them twice changes
 * nothing). `file` marks a `/files/...` answer, which always gets the
 * sandbox whatever its origin sent.
 */
export function applyEdgeHeaders(headers: Headers, file: boolean, keysOn: boolean): void {
  headers.set("x-content-type-options", "nosniff");
  // A page of the gateway's own (the status page) may bring a stricter-or-equal policy;
  // whatever a retriever sent, a file always gets the sandbox.
  if (file || !headers.has("content-security-policy")) {
    headers.set("content-security-policy", CONTENT_SECURITY_POLICY);
  }
  if (!keysOn) return;
  const cacheControl = headers.get("cache-control");
  if (cacheControl !== null && /\bpublic\b/i.test(cacheControl)) {
    headers.set("cache-control", cacheControl.replace(/\bpublic\b/gi, "private"));
  }
  const vary = headers.get("vary");
  if (vary === null || !/(^|,)\s*authorization\s*(,|$)/i.test(vary)) {
    headers.append("vary", "Authorization");
  }
}

/** Add the edge headers to every response; `keysOn` makes cacheable responses private. */
export function edgeHeaders(keysOn: boolean): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    await next();
    applyEdgeHeaders(c.res.headers, c.req.path.startsWith("/files/"), keysOn);
  };
}
