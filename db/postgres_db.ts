/**
 * {@linkcode Db} on PostgreSQL through postgres.js.
 *
 * @module
 */

import postgres from "postgres";
import { DesConfigError } from "../core/errors.ts";
import type { Db, DbOptions, DbTx } from "./db.ts";
import { normalizeParams, postgresTypes } from "./postgres_types.ts";
import { type DbTarget, mapConnectionError } from "./sql_errors.ts";

type Sql = postgres.Sql;
type TxSql = postgres.TransactionSql;

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

function txOf(sql: TxSql, target: DbTarget): DbTx {
  return {
    async query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      try {
        const rows = await sql.unsafe(
          text,
          normalizeParams(params) as postgres.ParameterOrJSON<never>[],
        );
        // A plain array, as the embedded engine returns (postgres.js adds count, columns …).
        return Array.from(rows) as T[];
      } catch (err) {
        throw mapConnectionError(err, target);
      }
    },
    async exec(script: string): Promise<void> {
      try {
        await sql.unsafe(script);
      } catch (err) {
        throw mapConnectionError(err, target);
      }
    },
  };
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
    this.#sql = postgres(url, {
      max,
      connect_timeout: options.connectTimeoutSeconds ?? 10,
      connection: { application_name: options.applicationName ?? "des" },
      onnotice: () => {},
      transform: { undefined: null },
      types: postgresTypes(),
    });
    this.#direct = txOf(this.#sql as unknown as TxSql, this.#target);
  }

  /** Run one statement. */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#direct.query<T>(text, params);
  }

  /** Run a multi-statement script. */
  exec(script: string): Promise<void> {
    return this.#direct.exec(script);
  }

  /** Run `fn` in a transaction (`BEGIN` … `COMMIT`, or `ROLLBACK` on a throw). */
  async transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    try {
      return await this.#sql.begin((tx) => fn(txOf(tx, this.#target))) as T;
    } catch (err) {
      throw mapConnectionError(err, this.#target);
    }
  }

  /** LISTEN on a dedicated connection; re-subscribes after a reconnect. */
  async listen(
    channel: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    try {
      const { unlisten } = await this.#sql.listen(channel, onPayload);
      return unlisten;
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
    await this.#sql.end({ timeout: 5 });
  }
}
