/**
 * One transaction attempt on postgres.js that never writes to a connection
 * after it closed.
 *
 * Why: postgres.js 3.4.9 (`sql.begin`) keeps running the transaction's
 * callback after the reserved connection closed (a terminated backend, a
 * network cut), and then issues the callback's next statement and its own
 * `rollback`/`commit` on that closed connection. `connection.js` buffers the
 * bytes and schedules `setImmediate(nextWrite)`, which calls
 * `socket.write` on the `null` socket: an uncaught
 * `TypeError: Cannot read properties of null (reading 'write')` that ends the
 * whole process (upstream porsager/postgres issues #1066, #1154 and #1208,
 * fixes proposed in pull requests #1168 and #1209, not released; denoland/deno
 * issue #34667 shows the same crash under Deno). When the pool has reconnected
 * that connection meanwhile, the dead transaction's statements would even run
 * outside any transaction.
 *
 * Workaround: the callback gets a guarded transaction handle. Once a statement
 * failed with a connection error, or the driver reported the connection
 * closed, the handle refuses further statements, and the callback's outcome is
 * never handed back to `sql.begin` (its promise is left pending), so the driver
 * never sends `rollback` or `commit` on the dead connection. The caller gets
 * the connection error at once; the server has rolled the transaction back
 * when its backend ended.
 *
 * @module
 */

import type postgres from "postgres";
import { DesUnavailableError } from "../core/errors.ts";
import type { DbTx, QueryOptions } from "./db.ts";
import { dbSpan } from "./db_spans.ts";
import { normalizeParams } from "./postgres_types.ts";
import { type DbTarget, isConnectionError } from "./sql_errors.ts";

type TxSql = postgres.TransactionSql;

/** What happened to one transaction attempt, for the retry decision. */
export interface TxAttempt {
  /** The connection was lost; nothing more is sent on it. */
  dead: boolean;
  /** The callback finished and `commit` was (or was about to be) sent. */
  committing: boolean;
}

/** A connection error raised without touching the driver (the connection is gone). */
export class ConnectionGoneError extends Error {
  /** postgres.js's code for a closed connection, so `isConnectionError` knows it. */
  readonly code = "CONNECTION_CLOSED";
  /** @param message what could not be sent */
  constructor(message: string) {
    super(message);
    this.name = "ConnectionGoneError";
  }
}

const PENDING: Promise<never> = new Promise<never>(() => {});

/** Statements through postgres.js `unsafe`, returned as plain arrays. */
export function plainTx(sql: TxSql): DbTx {
  return {
    query<T>(text: string, params: readonly unknown[] = [], options?: QueryOptions): Promise<T[]> {
      return dbSpan(text, async () => {
        const rows = await sql.unsafe(
          text,
          normalizeParams(params) as postgres.ParameterOrJSON<never>[],
          { prepare: options?.prepare === true },
        );
        // A plain array, as the embedded engine returns (postgres.js adds count, columns …).
        return Array.from(rows) as T[];
      });
    },
    exec(script: string): Promise<void> {
      return dbSpan(script, async () => {
        await sql.unsafe(script);
      });
    },
  };
}

function guardedTx(inner: DbTx, attempt: TxAttempt): DbTx {
  const check = () => {
    if (attempt.dead) {
      throw new ConnectionGoneError("the transaction's database connection was lost");
    }
  };
  const watch = (err: unknown): never => {
    if (isConnectionError(err)) attempt.dead = true;
    throw err;
  };
  return {
    query<T>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<T[]> {
      check();
      return inner.query<T>(text, params, options).catch(watch);
    },
    exec(script: string): Promise<void> {
      check();
      return inner.exec(script).catch(watch);
    },
  };
}

/**
 * Run `fn` once in `sql.begin`, guarded as the module doc explains. Rejects
 * with the driver's error (a connection error when the connection was lost);
 * `attempt` tells whether `commit` may have reached the server.
 */
export function runTransaction<T>(
  sql: postgres.Sql,
  fn: (tx: DbTx) => Promise<T>,
  attempt: TxAttempt,
): Promise<T> {
  let abandon!: (err: unknown) => void;
  const abandoned = new Promise<never>((_, reject) => abandon = reject);
  const begun = sql.begin(async (txSql) => {
    let result: T;
    try {
      result = await fn(guardedTx(plainTx(txSql), attempt));
    } catch (err) {
      if (attempt.dead || isConnectionError(err)) {
        attempt.dead = true;
        abandon(err);
        return PENDING;
      }
      throw err;
    }
    if (attempt.dead) {
      abandon(new ConnectionGoneError("the transaction's database connection was lost"));
      return PENDING;
    }
    attempt.committing = true;
    return result;
  }) as Promise<T>;
  // The driver rejects `begin` when the reserved connection closes, even while
  // the callback is between statements: from then on the guard refuses them.
  begun.catch((err) => {
    if (isConnectionError(err)) attempt.dead = true;
  });
  return Promise.race([begun, abandoned]);
}

/** The error for a transaction whose `commit` may or may not have reached the server. */
export function commitUnknown(cause: unknown, target: DbTarget): DesUnavailableError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new DesUnavailableError(
    `PostgreSQL at ${target.host}:${target.port} (database ${target.database}) dropped the connection while committing; the transaction may or may not have committed: ${reason}`,
    { ...target, dbError: (cause as { code?: string })?.code, commitUnknown: true },
    cause,
  );
}
