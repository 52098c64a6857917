/**
 * Classifying database errors the same way on both engines.
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";

/** The SQLSTATE of a database error (e.g. `23505`), if it has one. */
export function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/**
 * Whether an error means the server could not be reached or used: network
 * failures, SQLSTATE class 08 (connection), 28 (authentication), `3D000`
 * (no such database), `57P0x` (shutdown) and `53300` (too many connections).
 */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  if (NETWORK_CODES.has(code)) return true;
  return /^(08|28)/.test(code) || code === "3D000" || /^57P0[1-3]$/.test(code) ||
    code === "53300";
}

/** Where a database is, for error messages (never with a password). */
export interface DbTarget {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
  /** Database name. */
  database: string;
  /** User name. */
  user: string;
}

/** Wrap a connection failure as `DesUnavailableError` naming the server; other errors pass through. */
export function mapConnectionError(err: unknown, target: DbTarget): unknown {
  if (!isConnectionError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new DesUnavailableError(
    `PostgreSQL at ${target.host}:${target.port} (database ${target.database}, user ${target.user}) is unavailable: ${reason}`,
    { ...target, dbError: (err as { code?: string }).code },
    err,
  );
}
