/**
 * Settings of the gateway's production edge, read from the environment and
 * validated at start:
 *
 * | variable | meaning |
 * |---|---|
 * | `DES_GATEWAY_API_KEYS` | `id:secret` or `id@scope+scope:secret`, comma-separated; when set, routes need a key with their scope |
 * | `DES_GATEWAY_ALLOW_ANONYMOUS` | `true` lets a gateway without keys listen on a non-loopback address |
 * | `DES_GATEWAY_RATE_LIMIT` | requests per second per API key and per client address (token bucket, burst = rate); empty = off |
 * | `DES_GATEWAY_ADDRESS_RATE_LIMIT` | requests per second per client address (IPv6: per /64), checked before authentication; default: `DES_GATEWAY_RATE_LIMIT` |
 * | `DES_GATEWAY_TRUSTED_PROXIES` | CIDRs of proxies whose `Forwarded` / `X-Forwarded-For` name the client |
 * | `DES_GATEWAY_AUDIT` | `true` (default) writes `des_read_audit`; `false` turns it off |
 * | `DES_GATEWAY_AUDIT_REQUIRED` | `true` refuses reads with 503 when they cannot be audited |
 * | `DES_GATEWAY_CACHE_BYTES` | memory of the gateway's byte tier of hot small files (`0` = off); needs the metadata DB |
 * | `DES_TLS_CERT_FILE`, `DES_TLS_KEY_FILE` | PEM files; both set = HTTPS (HTTP/2 by ALPN) |
 *
 * @module
 */

import { parseByteSize } from "../core/config.ts";
import { DesConfigError } from "../core/errors.ts";
import { isLoopbackHost } from "../core/loopback.ts";
import { loadTlsFiles, type TlsFiles } from "../core/tls_files.ts";
import { type ApiKey, parseApiKeys } from "./auth.ts";
import { type Cidr, parseCidrs } from "./client_address.ts";

/** One edge setting as `des env` lists it. */
export interface EdgeSettingDoc {
  /** Environment variable. */
  env: string;
  /** Default as written in the environment (empty = none). */
  defaultValue: string;
  /** What it controls. */
  description: string;
}

/** The edge settings, in the order of the table above. */
export const GATEWAY_SETTINGS: readonly EdgeSettingDoc[] = [
  {
    env: "DES_GATEWAY_API_KEYS",
    defaultValue: "",
    description: "id:secret or id@scope+scope:secret, comma-separated; empty = no keys",
  },
  {
    env: "DES_GATEWAY_ALLOW_ANONYMOUS",
    defaultValue: "false",
    description: "true lets a gateway without keys listen beyond loopback",
  },
  {
    env: "DES_GATEWAY_RATE_LIMIT",
    defaultValue: "",
    description: "requests per second per key and per address",
  },
  {
    env: "DES_GATEWAY_ADDRESS_RATE_LIMIT",
    defaultValue: "",
    description: "requests per second per address (default: DES_GATEWAY_RATE_LIMIT)",
  },
  {
    env: "DES_GATEWAY_TRUSTED_PROXIES",
    defaultValue: "",
    description: "CIDRs whose Forwarded / X-Forwarded-For name the client",
  },
  { env: "DES_GATEWAY_AUDIT", defaultValue: "true", description: "write des_read_audit" },
  {
    env: "DES_GATEWAY_AUDIT_REQUIRED",
    defaultValue: "false",
    description: "503 for reads that cannot be audited",
  },
  {
    env: "DES_GATEWAY_CACHE_BYTES",
    defaultValue: "0",
    description: "gateway byte tier of hot small files, in memory (0 = off)",
  },
  { env: "DES_TLS_CERT_FILE", defaultValue: "", description: "PEM certificate (HTTPS)" },
  { env: "DES_TLS_KEY_FILE", defaultValue: "", description: "PEM private key (HTTPS)" },
];

/** The validated edge settings. */
export interface GatewaySettings {
  /** API keys; empty = open. */
  apiKeys: ApiKey[];
  /** Whether an open gateway may listen beyond loopback. */
  allowAnonymous: boolean;
  /** Requests per second per key, or undefined for no limit. */
  rateLimit?: number;
  /** Requests per second per client address, or undefined for no limit. */
  addressRateLimit?: number;
  /** Proxies trusted to name the client. */
  trustedProxies: Cidr[];
  /** TLS certificate and key (PEM text), when HTTPS is on. */
  tls?: TlsFiles;
  /** Whether reads are audited. */
  audit: boolean;
  /** Whether reads that cannot be audited are refused (503). */
  auditRequired: boolean;
  /** Budget of the gateway's byte tier in bytes (0 = no tier). */
  cacheBytes: number;
}

/** Something that reads environment variables. */
export interface EnvLike {
  /** The value of `name`. */
  get(name: string): string | undefined;
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  "1": true,
  yes: true,
  false: false,
  "0": false,
  no: false,
};

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
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = (env.get(name) ?? "").trim().toLowerCase();
    if (raw === "") return fallback;
    if (raw in BOOLEANS) return BOOLEANS[raw];
    problems.push(`${name}=${JSON.stringify(raw.slice(0, 20))}: expected true or false`);
    return fallback;
  };
  const rate = (name: string): number | undefined => {
    const raw = env.get(name)?.trim();
    if (!raw) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      problems.push(
        `${name}=${JSON.stringify(raw.slice(0, 20))}: expected requests per second > 0`,
      );
      return undefined;
    }
    return value;
  };
  const apiKeys = attempt(() => parseApiKeys(env.get("DES_GATEWAY_API_KEYS"))) ?? [];
  const rateLimit = rate("DES_GATEWAY_RATE_LIMIT");
  const addressRateLimit = rate("DES_GATEWAY_ADDRESS_RATE_LIMIT") ?? rateLimit;
  const trustedProxies = attempt(() => parseCidrs(env.get("DES_GATEWAY_TRUSTED_PROXIES"))) ?? [];
  const audit = flag("DES_GATEWAY_AUDIT", true);
  const auditRequired = flag("DES_GATEWAY_AUDIT_REQUIRED", false);
  if (auditRequired && !audit) {
    problems.push("DES_GATEWAY_AUDIT_REQUIRED=true needs DES_GATEWAY_AUDIT=true");
  }
  const allowAnonymous = flag("DES_GATEWAY_ALLOW_ANONYMOUS", false);
  const cacheBytes = attempt(() => gatewayCacheBytes(env.get("DES_GATEWAY_CACHE_BYTES"))) ?? 0;
  const tls = await loadTlsFiles(env, problems);
  if (problems.length > 0) {
    throw new DesConfigError(`invalid gateway configuration:\n  ${problems.join("\n  ")}`, {
      problems,
    });
  }
  return {
    apiKeys,
    allowAnonymous,
    rateLimit,
    addressRateLimit,
    trustedProxies,
    tls,
    audit,
    auditRequired,
    cacheBytes,
  };
}

/** Largest `DES_GATEWAY_CACHE_BYTES`: the tier is meant to be small. */
export const MAX_GATEWAY_CACHE_BYTES = 16 * 1024 ** 3;

/** `DES_GATEWAY_CACHE_BYTES` as bytes (empty = 0); throws a message naming the setting. */
function gatewayCacheBytes(raw: string | undefined): number {
  if (!raw?.trim()) return 0;
  let bytes: number;
  try {
    bytes = parseByteSize(raw);
  } catch (e) {
    throw new Error(`DES_GATEWAY_CACHE_BYTES: ${(e as Error).message}`);
  }
  if (bytes > MAX_GATEWAY_CACHE_BYTES) {
    throw new Error(`DES_GATEWAY_CACHE_BYTES: expected at most ${MAX_GATEWAY_CACHE_BYTES} bytes`);
  }
  return bytes;
}

/**
 * Refuse to serve without API keys on a non-loopback address unless
 * `DES_GATEWAY_ALLOW_ANONYMOUS=true`: an open archive on a network is a
 * decision, never a default.
 */
export function checkExposure(settings: GatewaySettings, host: string): void {
  if (settings.apiKeys.length > 0 || settings.allowAnonymous || isLoopbackHost(host)) return;
  throw new DesConfigError(
    `the gateway has no API keys and would listen on ${host}, which is not loopback: ` +
      "set DES_GATEWAY_API_KEYS, or DES_GATEWAY_ALLOW_ANONYMOUS=true to serve anyone who can " +
      "reach it",
    { host },
  );
}
