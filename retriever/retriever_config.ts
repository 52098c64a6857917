/**
 * Settings of a retriever's HTTP face, read from the environment and
 * validated at start:
 *
 * | variable | meaning |
 * |---|---|
 * | `DES_RETRIEVER_TOKEN` | shared secret; when set, `/files/*` needs `Authorization: Bearer <token>` (401 otherwise) |
 * | `DES_TLS_CERT_FILE`, `DES_TLS_KEY_FILE` | PEM files; both set = HTTPS |
 * | `DES_RETRIEVER_ALLOW_UNAUTHENTICATED` | `true` lets a retriever without a token listen on a non-loopback address |
 *
 * A retriever serves archived files to whoever reaches it, so one that
 * listens beyond loopback without a token refuses to start unless the
 * operator opts out explicitly (e.g. a network that only the gateway can
 * reach, enforced by something else).
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import type { EnvSource } from "../core/config.ts";
import { hopTokenOf, RETRIEVER_TOKEN_ENV } from "../core/hop_token.ts";
import { isLoopbackHost } from "../core/loopback.ts";
import { loadTlsFiles, type TlsFiles } from "../core/tls_files.ts";

/** Something that reads environment variables. */
export type EnvReader = EnvSource;

/** The validated settings. */
export interface RetrieverSettings {
  /** Shared secret of the gateway hop; undefined = `/files` open. */
  token?: string;
  /** Certificate and key (PEM text) when HTTPS is on. */
  tls?: TlsFiles;
  /** The explicit opt-out of the non-loopback check. */
  allowUnauthenticated: boolean;
}

/** Environment variable of the opt-out. */
export const ALLOW_UNAUTHENTICATED_ENV = "DES_RETRIEVER_ALLOW_UNAUTHENTICATED";

/** Read and validate; `DesConfigError` lists every problem (values are never echoed). */
export async function loadRetrieverSettings(
  env: EnvReader = Deno.env,
): Promise<RetrieverSettings> {
  const problems: string[] = [];
  const token = hopTokenOf(env, problems);
  const allowRaw = (env.get(ALLOW_UNAUTHENTICATED_ENV) ?? "false").trim().toLowerCase();
  if (!["true", "false", "1", "0", ""].includes(allowRaw)) {
    problems.push(`${ALLOW_UNAUTHENTICATED_ENV}: expected true or false`);
  }
  const tls = await loadTlsFiles(env, problems);
  if (problems.length > 0) {
    throw new DesConfigError(`invalid retriever configuration:\n  ${problems.join("\n  ")}`, {
      problems,
    });
  }
  return { token, tls, allowUnauthenticated: ["true", "1"].includes(allowRaw) };
}

/**
 * Refuse to listen on `host` when that would serve files to the network
 * without a token and without the explicit opt-out.
 */
export function checkExposure(host: string, settings: RetrieverSettings): void {
  if (isLoopbackHost(host) || settings.token || settings.allowUnauthenticated) return;
  throw new DesConfigError(
    `refusing to serve files on ${host} without ${RETRIEVER_TOKEN_ENV}: set the token (and the ` +
      `same on the gateway), listen on loopback, or set ${ALLOW_UNAUTHENTICATED_ENV}=true`,
    { host },
  );
}
