/**
 * API-key authentication of `/files/*` at the gateway. Keys come from
 * `DES_GATEWAY_API_KEYS` as comma-separated `id:secret` pairs; a request
 * presents `Authorization: Bearer <secret>` and is known by the key's id
 * from then on (rate limit, audit trail, logs). Secrets are compared in
 * constant time.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { DesConfigError, DesError } from "../core/errors.ts";

/** One API key. */
export interface ApiKey {
  /** Client id written to logs and the audit trail. */
  id: string;
  /** SHA-256 of the secret. */
  secretDigest: Uint8Array;
}

/** Missing or wrong credentials (HTTP 401). */
export class DesUnauthorizedError extends DesError {
  /** @param message what is missing or wrong */
  constructor(message: string) {
    super(message, { code: "auth.unauthorized", status: 401 });
  }
}

function digest(secret: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(secret).digest());
}

/**
 * Parse `id:secret,id:secret`. An empty value means authentication is off
 * (returns `[]`). Throws `DesConfigError` on a malformed pair, an empty id
 * or secret, or a duplicate id.
 */
export function parseApiKeys(value: string | undefined): ApiKey[] {
  if (value === undefined || value.trim() === "") return [];
  const keys: ApiKey[] = [];
  for (const pair of value.split(",")) {
    const colon = pair.indexOf(":");
    const id = colon < 0 ? "" : pair.slice(0, colon).trim();
    const secret = colon < 0 ? "" : pair.slice(colon + 1).trim();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id) || secret.length === 0) {
      throw new DesConfigError(
        "DES_GATEWAY_API_KEYS must be comma-separated id:secret pairs (id: letters, digits, . _ -)",
        { setting: "DES_GATEWAY_API_KEYS", position: keys.length },
      );
    }
    if (keys.some((k) => k.id === id)) {
      throw new DesConfigError(`DES_GATEWAY_API_KEYS lists the id ${id} twice`, {
        setting: "DES_GATEWAY_API_KEYS",
        id,
      });
    }
    keys.push({ id, secretDigest: digest(secret) });
  }
  return keys;
}

/**
 * The client id of a request carrying `Authorization: Bearer <secret>`.
 * Throws {@linkcode DesUnauthorizedError} when the header is missing,
 * not a bearer token, or matches no key.
 */
export function authenticate(authorization: string | null, keys: readonly ApiKey[]): string {
  if (!authorization) {
    throw new DesUnauthorizedError("an API key is required (Authorization: Bearer)");
  }
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (!m) throw new DesUnauthorizedError("the Authorization header must be 'Bearer <api key>'");
  const given = digest(m[1]);
  let match: string | undefined;
  for (const key of keys) {
    if (timingSafeEqual(given, key.secretDigest)) match ??= key.id;
  }
  if (match === undefined) throw new DesUnauthorizedError("the API key is not valid");
  return match;
}
