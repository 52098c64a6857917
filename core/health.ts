/**
 * One shape for liveness and readiness on every DES service:
 *
 * - `GET /healthz` → 200 `{"status":"ok"}` while the process serves;
 * - `GET /readyz` → 200 `{"status":"ready","checks":{…}}` or 503
 *   `{"status":"not ready","checks":{…}}` with `Retry-After`, where each
 *   check is `"ok"` or what is wrong. A caller not allowed to see details
 *   gets the same status and `status` member without `checks`.
 *
 * @module
 */

/** Outcome of a service's readiness checks. */
export interface Readiness {
  /** Every check passed. */
  ready: boolean;
  /** Check name → `"ok"` or what failed. */
  checks: Record<string, string>;
}

/** Seconds a prober should wait after a 503 from `/readyz`. */
export const READINESS_RETRY_AFTER = "5";

/** Readiness from named check results (`"ok"` or a reason). */
export function readinessOf(checks: Record<string, string>): Readiness {
  return { ready: Object.values(checks).every((v) => v === "ok"), checks };
}

/** The `/healthz` response; `about` adds identifying members (a retriever's id and range). */
export function healthResponse(about: Record<string, unknown> = {}): Response {
  return Response.json({ status: "ok", ...about }, { headers: { "cache-control": "no-store" } });
}

/**
 * The `/readyz` response for `readiness`; `details: false` leaves out the
 * checks, `about` adds identifying members.
 */
export function readinessResponse(
  readiness: Readiness,
  details = true,
  about: Record<string, unknown> = {},
): Response {
  const body = {
    status: readiness.ready ? "ready" : "not ready",
    ...about,
    ...(details ? { checks: readiness.checks } : {}),
  };
  return Response.json(body, {
    status: readiness.ready ? 200 : 503,
    headers: {
      "cache-control": "no-store",
      ...(readiness.ready ? {} : { "retry-after": READINESS_RETRY_AFTER }),
    },
  });
}
