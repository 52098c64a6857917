/**
 * How the gateway reaches its retrievers, read from the environment and
 * validated at start:
 *
 * | variable | meaning |
 * |---|---|
 * | `DES_RETRIEVER_TOKEN` | shared secret sent as `Authorization: Bearer <token>` on every hop |
 * | `DES_RETRIEVER_CA_FILE` | PEM bundle of the CA(s) that signed the retrievers' certificates (`https://` retrievers) |
 * | `DES_RETRIEVER_URL_ALLOWLIST` | comma-separated base URLs; a registration in `des_retrievers` is routed to only when its URL starts with one of them (default: loopback URLs only) |
 *
 * The allow-list matters with `--routes-from-db`: anyone who can write the
 * registrations table could otherwise point the gateway (and its token) at
 * a host of their choice.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import type { EnvSource } from "../core/config.ts";
import { hopTokenOf } from "../core/hop_token.ts";
import type { Logger } from "../core/log.ts";
import { isLoopbackUrl } from "../core/loopback.ts";
import type { RetrieverRecord } from "../db/retriever_records.ts";
import { Http1Pool } from "../core/http1_client.ts";
import { TRACING } from "../core/spans.ts";
import type { HttpTargetOptions } from "./http_target.ts";

/** Something that reads environment variables. */
export type HopEnv = EnvSource;

/** The validated hop settings. */
export interface RetrieverHopSettings {
  /** Shared secret, if any. */
  token?: string;
  /** PEM text of the trusted CA bundle, if any. */
  caCert?: string;
  /** Accepted URL prefixes of registrations; empty = loopback only. */
  allowedUrls: string[];
}

/** Environment variable of the allow-list. */
export const URL_ALLOWLIST_ENV = "DES_RETRIEVER_URL_ALLOWLIST";

/** Read and validate; `DesConfigError` lists every problem. */
export async function loadRetrieverHopSettings(
  env: HopEnv = Deno.env,
): Promise<RetrieverHopSettings> {
  const problems: string[] = [];
  const token = hopTokenOf(env, problems);
  let caCert: string | undefined;
  const caFile = env.get("DES_RETRIEVER_CA_FILE")?.trim();
  if (caFile) {
    try {
      caCert = await Deno.readTextFile(caFile);
    } catch (e) {
      problems.push(`cannot read DES_RETRIEVER_CA_FILE: ${(e as Error).message}`);
    }
  }
  const allowedUrls: string[] = [];
  for (const item of (env.get(URL_ALLOWLIST_ENV) ?? "").split(",")) {
    const entry = item.trim();
    if (!entry) continue;
    try {
      const u = new URL(entry);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
      allowedUrls.push(entry.replace(/\/+$/, ""));
    } catch {
      problems.push(`${URL_ALLOWLIST_ENV}: ${JSON.stringify(entry)} is not an http(s) URL`);
    }
  }
  if (problems.length > 0) {
    throw new DesConfigError(`invalid retriever hop configuration:\n  ${problems.join("\n  ")}`, {
      problems,
    });
  }
  return { token, caCert, allowedUrls };
}

/** Idle keep-alive connections kept per retriever by the hop's client. */
export const HOP_POOL_MAX_IDLE_PER_HOST = 256;
/** Milliseconds an idle hop connection is kept before it is closed. */
export const HOP_POOL_IDLE_TIMEOUT_MS = 30_000;

/**
 * Target options for these settings: the token, and for every retriever
 * keep-alive connections pooled per retriever (at most
 * {@linkcode HOP_POOL_MAX_IDLE_PER_HOST} idle ones, none reused after
 * {@linkcode HOP_POOL_IDLE_TIMEOUT_MS} idle), trusting the CA when one is
 * set: an HTTP/1.1 pool for the forwards (over TLS for `https://`
 * retrievers; none when spans are exported, as `fetch` makes the client
 * spans) and a `fetch` client for the probes. Close both when done.
 */
export function hopTargetOptions(
  settings: RetrieverHopSettings,
): HttpTargetOptions & { client: Deno.HttpClient; pool?: Http1Pool } {
  const caCerts = settings.caCert ? [settings.caCert] : undefined;
  const client = Deno.createHttpClient({
    poolMaxIdlePerHost: HOP_POOL_MAX_IDLE_PER_HOST,
    poolIdleTimeout: HOP_POOL_IDLE_TIMEOUT_MS,
    ...(caCerts ? { caCerts } : {}),
  });
  // With tracing on, `fetch` makes the hop's client spans; the pool makes none.
  const pool = TRACING ? undefined : new Http1Pool({
    maxIdlePerOrigin: HOP_POOL_MAX_IDLE_PER_HOST,
    idleTimeoutMs: HOP_POOL_IDLE_TIMEOUT_MS,
    caCerts,
  });
  return { token: settings.token, client, pool };
}

/** Whether a registration URL is on the allow-list (loopback only when the list is empty). */
export function urlAllowed(url: string, allowedUrls: readonly string[]): boolean {
  if (allowedUrls.length === 0) return isLoopbackUrl(url);
  const clean = url.replace(/\/+$/, "");
  return allowedUrls.some((prefix) => clean === prefix || clean.startsWith(`${prefix}/`));
}

/** The records whose URL is allowed; each refused one is logged. */
export function allowedRecords(
  records: readonly RetrieverRecord[],
  allowedUrls: readonly string[],
  log?: Logger,
): RetrieverRecord[] {
  return records.filter((r) => {
    if (urlAllowed(r.url, allowedUrls)) return true;
    log?.warn("ignoring a retriever registration whose URL is not allowed", {
      retriever: r.id,
      url: r.url,
      setting: URL_ALLOWLIST_ENV,
    });
    return false;
  });
}
