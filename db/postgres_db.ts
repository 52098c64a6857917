/**
 * {@linkcode Db} on PostgreSQL through postgres.js.
 *
 * No database fault may end a DES process: every statement's failure comes
 * back as a rejected promise (see `postgres_tx.ts` for the driver bug this
 * works around), reads and uncommitted transactions are repeated on a fresh
 * connection after a lost one (`db_retry.ts`), and LISTEN subscriptions are
 * renewed after reconnects (`postgres_listen.ts`).
 *
 * @module
 */

import postgres from "postgres";
import { DesConfigError } from "../core/errors.ts";
import type { Db, DbOptions, DbTx, ListenOptions, QueryOptions } from "./db.ts";
import { txSpan } from "./db_spans.ts";
import { CONNECTION_ATTEMPTS, isRepeatableRead, retryDelayMs } from "./db_retry.ts";
import { PostgresListener } from "./postgres_listen.ts";
import { commitUnknown, plainTx, runTransaction, type TxAttempt } from "./postgres_tx.ts";
import { postgresTypes } from "./postgres_types.ts";
import { type DbTarget, isConnectionError, mapConnectionError } from "./sql_errors.ts";

type Sql = postgres.Sql;

/** Parse a `postgres://` URL into its target (for messages) without keeping the password. */
export function postgresTarget(url: string): DbTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DesConfigError("DES_DATABASE_URL is not a valid URL", { scheme: url.split(":")[0] });
  }
  return {
    host: decodeURIComponent(parsed.hostname) || "localhost",
    port: Number(parsed.port || 5432),
    database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) ||
      "postgres",
    user: decodeURIComponent(parsed.username) || "postgres",
  };
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<invalid url>";
  }
}

/** {@linkcode Db} over a postgres.js pool. Create with `openDb("postgres://…")`. */
export class PostgresDb implements Db {
  /** Always `"postgres"`. */
  readonly kind = "postgres" as const;
  /** The URL without its password. */
  readonly location: string;
  readonly #sql: Sql;
  readonly #target: DbTarget;
  readonly #direct: DbTx;
  readonly #listener: PostgresListener;

  /** @param url a `postgres://` URL @param options pool size and timeouts */
  constructor(url: string, options: DbOptions = {}) {
    this.#target = postgresTarget(url);
    this.location = redactUrl(url);
    const max = options.max ?? 10;
    if (!Number.isInteger(max) || max < 1) {
      throw new DesConfigError(`database pool size must be a positive integer, got ${max}`, {
        max,
      });
    }
    const driverOptions = {
      // postgres.js 3.4.9 reads the server's array types on every new
      // connection from a promise nobody handles: a connection terminated
      // during that read is an unhandled rejection that ends the process.
      // The array types DES reads are declared in `postgresTypes()` instead.
      fetch_types: false,
      connect_timeout: options.connectTimeoutSeconds ?? 10,
      connection: { application_name: options.applicationName ?? "des" },
      onnotice: () => {},
      transform: { undefined: null },
      types: postgresTypes(),
    };
    this.#sql = postgres(url, { ...driverOptions, max });
    this.#direct = plainTx(this.#sql as unknown as postgres.TransactionSql);
    this.#listener = new PostgresListener(url, driverOptions);
  }

  /** Run one statement; a read is repeated on a fresh connection after a lost one. */
  query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<T[]> {
    return this.#withRetry(
      isRepeatableRead(text),
      () => this.#direct.query<T>(text, params, options),
    );
  }

  /** Run a multi-statement script (not repeated: it may write). */
  exec(script: string): Promise<void> {
    return this.#withRetry(false, () => this.#direct.exec(script));
  }

  /**
   * Run `fn` in a transaction (`BEGIN` … `COMMIT`, or `ROLLBACK` on a throw).
   * When the connection is lost before `COMMIT` was sent, the server has
   * rolled back and `fn` runs again on a fresh connection (so `fn` must not
   * have effects outside the database that cannot be repeated); when it is
   * lost during `COMMIT`, the outcome is unknown and the call fails with
   * `DesUnavailableError` (context `commitUnknown: true`).
   */
  async transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    for (let n = 1;; n++) {
      const attempt: TxAttempt = { dead: false, committing: false };
      try {
        return await txSpan(() => runTransaction(this.#sql, fn, attempt));
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        if (attempt.committing) throw commitUnknown(err, this.#target);
        if (n >= CONNECTION_ATTEMPTS) throw mapConnectionError(err, this.#target);
        await delay(retryDelayMs(n));
      }
    }
  }

  /**
   * LISTEN on a dedicated connection, renewed after every reconnect;
   * `options.onListen` runs after each (re)subscription.
   */
  async listen(
    channel: string,
    onPayload: (payload: string) => void,
    options?: ListenOptions,
  ): Promise<() => Promise<void>> {
    try {
      return await this.#listener.listen(channel, onPayload, options);
    } catch (err) {
      throw mapConnectionError(err, this.#target);
    }
  }

  /** `pg_notify(channel, payload)`. */
  async notify(channel: string, payload: string): Promise<void> {
    await this.query("select pg_notify($1, $2)", [channel, payload]);
  }

  /** End the pool, waiting up to 5 s for running queries. */
  async close(): Promise<void> {
    await Promise.all([this.#sql.end({ timeout: 5 }), this.#listener.close()]);
  }

  async #withRetry<T>(repeatable: boolean, run: () => Promise<T>): Promise<T> {
    for (let n = 1;; n++) {
      try {
        return await run();
      } catch (err) {
        if (!repeatable || !isConnectionError(err) || n >= CONNECTION_ATTEMPTS) {
          throw mapConnectionError(err, this.#target);
        }
        await delay(retryDelayMs(n));
      }
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
