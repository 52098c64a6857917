/**
 * The marker's HTTP face when it runs as a service: `/metrics` (Prometheus),
 * `/healthz` (the process is alive) and `/readyz` (every parent database
 * answers), in the shape of `core/health.ts`.
 *
 * @module
 */

import { Hono } from "hono";
import { healthResponse, readinessOf, readinessResponse } from "../core/health.ts";
import { METRICS_CONTENT_TYPE, type Registry } from "../core/metrics.ts";

/** A readiness check: resolves to `null` when ready, or a reason when not. */
export type ReadinessCheck = () => Promise<string | null>;

/** The marker's Hono app. */
export function markerApp(registry: Registry, checks: Record<string, ReadinessCheck>): Hono {
  const app = new Hono();
  app.get(
    "/metrics",
    (c) => c.body(registry.render(), 200, { "content-type": METRICS_CONTENT_TYPE }),
  );
  app.get("/healthz", () => healthResponse());
  app.get("/readyz", async () => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          return [name, await check()] as const;
        } catch (err) {
          return [name, (err as Error).message] as const;
        }
      }),
    );
    return readinessResponse(
      readinessOf(Object.fromEntries(results.map(([name, reason]) => [name, reason ?? "ok"]))),
    );
  });
  return app;
}

/** A check that runs `select 1` within `timeoutMs`. */
export function databaseReady(
  db: { query(text: string): Promise<unknown> },
  timeoutMs = 2_000,
): ReadinessCheck {
  return async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
    });
    try {
      return await Promise.race([db.query("select 1").then(() => null), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}
