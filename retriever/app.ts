/**
 * The retriever's HTTP face (Hono): `/files/*` handled by
 * {@linkcode Retriever.handle}, plus `/healthz`, `/readyz` and `/metrics`.
 * Every response carries `X-DES-Retriever: <id>`. With a hop token,
 * `/files/*` answers 401 unless the request carries it (probes and metrics
 * stay open: they reveal no file).
 *
 * @module
 */

import { Hono } from "hono";
import { DesError, DesNotFoundError } from "../core/errors.ts";
import { HopTokenCheck } from "../core/hop_token.ts";
import { healthResponse, readinessResponse } from "../core/health.ts";
import { METRICS_CONTENT_TYPE } from "../core/metrics.ts";
import { problemResponse } from "../core/problem.ts";
import { RETRIEVER_HEADER } from "../core/read_path.ts";
import type { Retriever } from "./retriever.ts";
import { formatShardRange } from "../naming/shard_range.ts";

/** Options of {@linkcode createRetrieverApp}. */
export interface RetrieverAppOptions {
  /** Shared secret the gateway must present on `/files/*` (`DES_RETRIEVER_TOKEN`). */
  token?: string;
}

/** The Hono app of a retriever. */
export function createRetrieverApp(retriever: Retriever, options: RetrieverAppOptions = {}): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set(RETRIEVER_HEADER, retriever.id);
  });
  if (options.token) {
    const check = new HopTokenCheck(options.token);
    app.use("/files/*", async (c, next) => {
      if (check.accepts(c.req.header("authorization") ?? null)) return await next();
      const error = new DesError("this retriever serves files to the gateway only", {
        code: "auth.unauthorized",
        status: 401,
      });
      return problemResponse(error, c.req.path, { "www-authenticate": 'Bearer realm="des"' });
    });
  }
  const about = () => ({ id: retriever.id, range: formatShardRange(retriever.range) });
  app.get("/healthz", () => healthResponse(about()));
  app.get("/readyz", async () => readinessResponse(await retriever.ready(), true, about()));
  app.get(
    "/metrics",
    (c) =>
      c.body(retriever.metrics.registry.render(), 200, { "content-type": METRICS_CONTENT_TYPE }),
  );
  app.all("/files/*", (c) => retriever.handle(c.req.raw));
  app.notFound((c) => problemResponse(new DesNotFoundError(`no route ${c.req.path}`), c.req.path));
  return app;
}
