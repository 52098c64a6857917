/**
 * The certificate and key of a process that serves HTTPS
 * (`DES_TLS_CERT_FILE`, `DES_TLS_KEY_FILE`): both set = HTTPS, neither =
 * plain HTTP, one alone is a configuration error. The gateway and the
 * retriever read them the same way at start.
 *
 * @module
 */

import type { EnvSource } from "./config.ts";

/** Environment variable of the PEM certificate file. */
export const TLS_CERT_FILE_ENV = "DES_TLS_CERT_FILE";
/** Environment variable of the PEM private key file. */
export const TLS_KEY_FILE_ENV = "DES_TLS_KEY_FILE";

/** A certificate and its key, PEM text, as `Deno.serve` takes them. */
export interface TlsFiles {
  /** Certificate chain. */
  cert: string;
  /** Private key. */
  key: string;
}

/**
 * Read the certificate and key named by the environment. `undefined` when
 * neither is set; a problem is pushed to `problems` (the contents never
 * echoed) when only one is set or a file cannot be read.
 */
export async function loadTlsFiles(
  env: EnvSource,
  problems: string[],
): Promise<TlsFiles | undefined> {
  const certFile = env.get(TLS_CERT_FILE_ENV)?.trim();
  const keyFile = env.get(TLS_KEY_FILE_ENV)?.trim();
  if (!!certFile !== !!keyFile) {
    problems.push(`${TLS_CERT_FILE_ENV} and ${TLS_KEY_FILE_ENV} must be set together`);
    return undefined;
  }
  if (!certFile || !keyFile) return undefined;
  try {
    return { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) };
  } catch (e) {
    problems.push(`cannot read the TLS certificate or key: ${(e as Error).message}`);
    return undefined;
  }
}
