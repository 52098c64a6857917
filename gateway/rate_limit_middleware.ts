/**
 * The rate limit as two middleware: per client address before
 * authentication (so wrong keys are limited too; IPv6 by /64), and per API
 * key after it (so a key is limited wherever it comes from).
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { addressKey } from "./client_address.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import type { TokenBucketLimiter } from "./rate_limit.ts";

/** 429 when the client's address (IPv6: its /64) has used its tokens. */
export function limitByAddress(limiter: TokenBucketLimiter): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    limiter.take(addressKey(c.get("address")), Date.now());
    await next();
  };
}

/** 429 when the authenticated key has used its tokens (no key: nothing to do). */
export function limitByKey(limiter: TokenBucketLimiter): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const key = c.get("key");
    if (key) limiter.take(key.id, Date.now());
    await next();
  };
}
