/**
 * The retriever's HTTP face: `/files/*` handled by
 * {@linkcode Retriever.handle} directly, plus `/healthz`, `/readyz` and
 * `/metrics` (Hono).
 * Every response carries `X-DES-Retriever: <id>`. With a hop token,
 * `/files/*` answers 401 unless the request carries it (probes and metrics
 * stay open: they reveal no file). `DELETE /files/<name>` is accepted only
 * with a hop token (the gateway has checked the `admin` scope); without one
 * it answers 403.
 *
 * @module
 */

import { Hono } from "hono";
import { DesError, DesNotFoundError } from "../core/errors.ts";
import { HopTokenCheck } from "../core/hop_token.ts";
import { healthResponse, readinessResponse } from "../core/health.ts";
import { METRICS_CONTENT_TYPE } from "../core/metrics.ts";
import { problemResponse } from "../core/problem.ts";
import { CLIENT_HEADER, RETRIEVER_HEADER } from "../core/read_path.ts";
import type { Retriever } from "./retriever.ts";
import { formatShardRange } from "../naming/shard_range.ts";

/** Options of {@linkcode createRetrieverApp}. */
export interface RetrieverAppOptions {
  /** Shared secret the gateway must present on `/files/*` (`DES_RETRIEVER_TOKEN`). */
  token?: string;
}

/** What serves a retriever's HTTP requests: `Deno.serve(options, app.fetch)`. */
export interface RetrieverApp {
  /** Answer one request. */
  fetch(request: Request): Promise<Response>;
}

/** Whether the path of `url` (an absolute URL) starts with `/files/`, without parsing it. */
function isFilesUrl(url: string): boolean {
  const scheme = url.indexOf("://");
  const path = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  return path >= 0 && url.startsWith("/files/", path);
}

/**
 * The retriever's HTTP face. `/files/*` — every read — goes straight to
 * {@linkcode Retriever.handle} after the token check; the probes and
 * metrics go through a Hono app.
 */
export function createRetrieverApp(
  retriever: Retriever,
  options: RetrieverAppOptions = {},
): RetrieverApp {
  const check = options.token ? new HopTokenCheck(options.token) : undefined;
  const stamp = (response: Response): Response => {
    response.headers.set(RETRIEVER_HEADER, retriever.id);
    return response;
  };
  const files = async (request: Request): Promise<Response> => {
    if (check && !check.accepts(request.headers.get("authorization"))) {
      const error = new DesError("this retriever serves files to the gateway only", {
        code: "auth.unauthorized",
        status: 401,
      });
      const path = new URL(request.url).pathname;
      return problemResponse(error, path, { "www-authenticate": 'Bearer realm="des"' });
    }
    if (request.method !== "DELETE") return await retriever.handle(request);
    if (!check) {
      const error = new DesError(
        "deletes reach a retriever only through the gateway, with DES_RETRIEVER_TOKEN set",
        { code: "auth.forbidden", status: 403 },
      );
      return problemResponse(error, new URL(request.url).pathname);
    }
    const client = request.headers.get(CLIENT_HEADER)?.slice(0, 64);
    return await retriever.handle(request, { clientId: client });
  };
  const app = new Hono();
  const about = () => ({ id: retriever.id, range: formatShardRange(retriever.range) });
  app.get("/healthz", () => healthResponse(about()));
  app.get("/readyz", async () => readinessResponse(await retriever.ready(), true, about()));
  app.get(
    "/metrics",
    (c) =>
      c.body(retriever.metrics.registry.render(), 200, { "content-type": METRICS_CONTENT_TYPE }),
  );
  app.notFound((c) => problemResponse(new DesNotFoundError(`no route ${c.req.path}`), c.req.path));
  return {
    fetch: async (request) =>
      stamp(isFilesUrl(request.url) ? await files(request) : await app.fetch(request)),
  };
}
