/**
 * API keys and scopes at the gateway. Keys come from `DES_GATEWAY_API_KEYS`
 * as comma-separated `id:secret` or `id@scope+scope:secret` entries; a
 * request presents `Authorization: Bearer <secret>` and is known by the
 * key's id from then on (rate limit, audit trail, logs). Secrets are
 * compared in constant time, as SHA-256 digests.
 *
 * Scopes: `read` (file bytes), `meta` (`/files/{name}/meta`), `names`
 * (`POST /names`), `admin` (`/metrics`, readiness details, full metadata).
 * A key without a scope list has `read` and `meta`.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { DesConfigError, DesError } from "../core/errors.ts";

/** What a key may do. */
export type Scope = "read" | "meta" | "names" | "admin";

/** Every scope, in documentation order. */
export const SCOPES: readonly Scope[] = ["read", "meta", "names", "admin"];

/** Scopes of a key configured without a list. */
export const DEFAULT_SCOPES: readonly Scope[] = ["read", "meta"];

/** Shortest accepted secret: long enough that guessing is out of reach. */
export const MIN_SECRET_LENGTH = 16;

/** One API key. */
export interface ApiKey {
  /** Client id written to logs and the audit trail. */
  id: string;
  /** SHA-256 of the secret. */
  secretDigest: Uint8Array;
  /** What the key may do. */
  scopes: ReadonlySet<Scope>;
}

/** Missing or wrong credentials (HTTP 401). */
export class DesUnauthorizedError extends DesError {
  /** @param message what is missing or wrong */
  constructor(message: string) {
    super(message, { code: "auth.unauthorized", status: 401 });
  }
}

/** A valid key without the scope a route needs (HTTP 403). */
export class DesForbiddenError extends DesError {
  /** @param clientId the key's id @param scope the scope the route needs */
  constructor(clientId: string, scope: Scope) {
    super(`the API key ${clientId} lacks the scope ${scope}`, {
      code: "auth.forbidden",
      status: 403,
      context: { scope },
    });
  }
}

function digest(secret: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(secret).digest());
}

function keyProblem(message: string, position: number): DesConfigError {
  return new DesConfigError(`DES_GATEWAY_API_KEYS: ${message}`, {
    setting: "DES_GATEWAY_API_KEYS",
    position,
  });
}

/**
 * Parse `id[@scope+scope]:secret,…` (the secret is everything after the
 * first colon). An empty value means authentication is
 * off (returns `[]`). Throws `DesConfigError` on a malformed entry, an empty
 * id, a secret shorter than {@linkcode MIN_SECRET_LENGTH}, an unknown scope
 * or a duplicate id; messages name the entry by position, never the secret.
 *
 * @example
 * ```ts
 * parseApiKeys("ops@read+admin:0123456789abcdef0123")[0].scopes.has("admin"); // true
 * ```
 */
export function parseApiKeys(value: string | undefined): ApiKey[] {
  if (value === undefined || value.trim() === "") return [];
  const keys: ApiKey[] = [];
  for (const [position, entry] of value.split(",").entries()) {
    const colon = entry.indexOf(":");
    const head = colon < 0 ? "" : entry.slice(0, colon).trim();
    const secret = colon < 0 ? "" : entry.slice(colon + 1).trim();
    const at = head.indexOf("@");
    const id = at < 0 ? head : head.slice(0, at);
    const scopeList = at < 0 ? undefined : head.slice(at + 1);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
      throw keyProblem(
        "expected comma-separated id:secret or id@scope+scope:secret entries " +
          "(id: letters, digits, . _ -; the secret may not contain a comma)",
        position,
      );
    }
    if (secret.length < MIN_SECRET_LENGTH) {
      throw keyProblem(
        `the secret of ${id} is shorter than ${MIN_SECRET_LENGTH} characters`,
        position,
      );
    }
    const scopes = scopeList === undefined ? [...DEFAULT_SCOPES] : scopeList.split("+");
    for (const scope of scopes) {
      if (!SCOPES.includes(scope as Scope)) {
        throw keyProblem(
          `${id} has the unknown scope ${JSON.stringify(scope.slice(0, 20))} ` +
            `(scopes: ${SCOPES.join(", ")})`,
          position,
        );
      }
    }
    if (keys.some((k) => k.id === id)) throw keyProblem(`the id ${id} appears twice`, position);
    keys.push({ id, secretDigest: digest(secret), scopes: new Set(scopes as Scope[]) });
  }
  return keys;
}

/** Longest `Authorization` value looked at; longer ones are refused unparsed. */
export const MAX_AUTHORIZATION_LENGTH = 1024;

/**
 * The key of a request carrying `Authorization: Bearer <secret>`. Throws
 * {@linkcode DesUnauthorizedError} when the header is missing, too long,
 * not a bearer token, or matches no key. Every key is compared, so the time
 * taken does not depend on which one matched.
 */
export function authenticate(authorization: string | null, keys: readonly ApiKey[]): ApiKey {
  if (!authorization) {
    throw new DesUnauthorizedError("an API key is required (Authorization: Bearer)");
  }
  const token = authorization.length <= MAX_AUTHORIZATION_LENGTH
    ? bearerToken(authorization)
    : undefined;
  if (token === undefined) {
    throw new DesUnauthorizedError("the Authorization header must be 'Bearer <api key>'");
  }
  const given = digest(token);
  let match: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(given, key.secretDigest)) match ??= key;
  }
  if (match === undefined) throw new DesUnauthorizedError("the API key is not valid");
  return match;
}

/** The token of `Bearer <token>` (case-insensitive scheme, blanks around), scanned once. */
function bearerToken(value: string): string | undefined {
  const v = value.trim();
  if (v.length < 8 || v.slice(0, 6).toLowerCase() !== "bearer") return undefined;
  let i = 6;
  if (v[i] !== " ") return undefined;
  while (v[i] === " ") i++;
  const token = v.slice(i);
  return token.length > 0 && !/\s/.test(token) ? token : undefined;
}
