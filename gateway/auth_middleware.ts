/**
 * Authentication and authorization as middleware. With API keys
 * configured, a route's scope needs a key that has it (401 without a valid
 * key, 403 with a key that lacks the scope); the key's id becomes the
 * client. Without keys the gateway is open (allowed on loopback, or with
 * `DES_GATEWAY_ALLOW_ANONYMOUS=true`), and every caller has every scope.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { type ApiKey, authenticate, DesForbiddenError, type Scope } from "./auth.ts";
import type { GatewayEnv } from "./gateway_env.ts";

/** Require `scope` (when keys are configured). */
export function requireScope(
  keys: readonly ApiKey[],
  scope: Scope,
): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    if (keys.length > 0) {
      const key = authenticate(c.req.header("authorization") ?? null, keys);
      c.set("key", key);
      c.set("client", key.id);
      if (!key.scopes.has(scope)) throw new DesForbiddenError(key.id, scope);
    }
    await next();
  };
}

/**
 * Whether the caller may see what `scope` guards, without refusing the
 * request: true without keys, or with a valid key that has the scope.
 */
export function callerHas(c: Context<GatewayEnv>, keys: readonly ApiKey[], scope: Scope): boolean {
  if (keys.length === 0) return true;
  let key = c.get("key");
  if (!key) {
    try {
      key = authenticate(c.req.header("authorization") ?? null, keys);
    } catch {
      return false;
    }
  }
  return key.scopes.has(scope);
}
