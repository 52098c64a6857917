/**
 * Settings of the gateway's production edge, read from the environment and
 * validated at start:
 *
 * | variable | meaning |
 * |---|---|
 * | `DES_GATEWAY_API_KEYS` | `id:secret,…`; when set, `/files/*` needs `Authorization: Bearer <secret>` |
 * | `DES_GATEWAY_RATE_LIMIT` | requests per second per client (token bucket, burst = rate); empty = off |
 * | `DES_TLS_CERT_FILE`, `DES_TLS_KEY_FILE` | PEM files; both set = HTTPS (HTTP/2 by ALPN) |
 * | `DES_GATEWAY_AUDIT` | `true` (default) writes `des_read_audit`; `false` turns it off |
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import { type ApiKey, parseApiKeys } from "./auth.ts";

/** The validated edge settings. */
export interface GatewaySettings {
  /** API keys; empty = open. */
  apiKeys: ApiKey[];
  /** Requests per second per client, or undefined for no limit. */
  rateLimit?: number;
  /** TLS certificate and key (PEM text), when HTTPS is on. */
  tls?: { cert: string; key: string };
  /** Whether reads are audited. */
  audit: boolean;
}

/** Something that reads environment variables. */
export interface EnvLike {
  /** The value of `name`. */
  get(name: string): string | undefined;
}

/** Read and validate the edge settings; `DesConfigError` lists every problem. */
export async function loadGatewaySettings(env: EnvLike = Deno.env): Promise<GatewaySettings> {
  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  const apiKeys = attempt(() => parseApiKeys(env.get("DES_GATEWAY_API_KEYS"))) ?? [];
  const rateRaw = env.get("DES_GATEWAY_RATE_LIMIT")?.trim();
  let rateLimit: number | undefined;
  if (rateRaw) {
    rateLimit = Number(rateRaw);
    if (!Number.isFinite(rateLimit) || rateLimit <= 0) {
      problems.push(
        `DES_GATEWAY_RATE_LIMIT=${JSON.stringify(rateRaw)}: expected requests per second > 0`,
      );
    }
  }
  const auditRaw = (env.get("DES_GATEWAY_AUDIT") ?? "true").trim().toLowerCase();
  if (!["true", "false", "1", "0", "yes", "no"].includes(auditRaw)) {
    problems.push(`DES_GATEWAY_AUDIT=${JSON.stringify(auditRaw)}: expected true or false`);
  }
  const certFile = env.get("DES_TLS_CERT_FILE")?.trim();
  const keyFile = env.get("DES_TLS_KEY_FILE")?.trim();
  let tls: GatewaySettings["tls"];
  if (!!certFile !== !!keyFile) {
    problems.push("DES_TLS_CERT_FILE and DES_TLS_KEY_FILE must be set together");
  } else if (certFile && keyFile) {
    try {
      tls = { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) };
    } catch (e) {
      problems.push(`cannot read the TLS certificate or key: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new DesConfigError(`invalid gateway configuration:\n  ${problems.join("\n  ")}`, {
      problems,
    });
  }
  return { apiKeys, rateLimit, tls, audit: ["true", "1", "yes"].includes(auditRaw) };
}
