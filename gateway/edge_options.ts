/**
 * The part of {@linkcode GatewayOptions} that follows from the edge
 * settings, shared by every process that runs the gateway (`deno task
 * gateway`, `deno task serve`).
 *
 * @module
 */

import type { GatewayOptions } from "./app.ts";
import type { GatewaySettings } from "./gateway_config.ts";
import { TokenBucketLimiter } from "./rate_limit.ts";

/** Keys, limiters, trusted proxies and the audit mode for `settings`. */
export function edgeOptions(
  settings: GatewaySettings,
): Pick<
  GatewayOptions,
  "apiKeys" | "rateLimiter" | "addressRateLimiter" | "trustedProxies" | "auditRequired"
> {
  return {
    apiKeys: settings.apiKeys,
    rateLimiter: settings.rateLimit ? new TokenBucketLimiter(settings.rateLimit) : undefined,
    addressRateLimiter: settings.addressRateLimit
      ? new TokenBucketLimiter(settings.addressRateLimit)
      : undefined,
    trustedProxies: settings.trustedProxies,
    auditRequired: settings.auditRequired,
  };
}
