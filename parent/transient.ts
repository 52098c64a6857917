/**
 * Which parent database errors are worth retrying as they are: lost
 * connections, serialization failures, deadlocks, lock timeouts. Anything
 * else (a constraint violation, a type error) fails the same way again.
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import { isConnectionError, sqlStateOf } from "../db/sql_errors.ts";

const TRANSIENT_STATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57014", // query_canceled (statement timeout)
]);

/** Whether `err` (or an error it wraps) is a transient database failure. */
export function isTransientDbError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DesUnavailableError || isConnectionError(e)) return true;
    const state = sqlStateOf(e);
    if (state && TRANSIENT_STATES.has(state)) return true;
  }
  return false;
}

/** A short, single-line description of a database error, for the parent's error column. */
export function describeDbError(err: unknown): string {
  const state = sqlStateOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const text = `${state ? `[${state}] ` : ""}${message}`.replace(/\s+/g, " ").trim();
  return text.length > 1000 ? `${text.slice(0, 999)}…` : text;
}
