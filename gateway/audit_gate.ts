/**
 * `DES_GATEWAY_AUDIT_REQUIRED=true`: a read that the audit trail cannot
 * promise to record (database down, or too many rows waiting) is refused
 * with 503 and `Retry-After` before anything is forwarded.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { DesUnavailableError } from "../core/errors.ts";
import type { AuditTrail } from "./audit.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** Refuse the request with 503 unless `audit` is healthy. */
export function requireAudit(
  audit: AuditTrail,
  metrics: GatewayMetrics,
): MiddlewareHandler<GatewayEnv> {
  return async (_c, next) => {
    const health = audit.health();
    if (health !== "ok") {
      metrics.auditRefused.inc();
      throw new DesUnavailableError(`the read cannot be audited: ${health}`, {});
    }
    await next();
  };
}
