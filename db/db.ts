/**
 * The metadata database seam: one small interface implemented by PostgreSQL
 * (postgres.js) and by an embedded engine (PGlite), so every component runs
 * on either.
 *
 * Values come back the same way on both engines:
 * `bigint`/`bigserial` → `number` when it is a safe integer, otherwise a JS
 * `bigint`; `integer`/`smallint`/`real`/`double precision` → `number`;
 * `numeric` → `string` (exact; cast sums with `::bigint` to get numbers);
 * `timestamptz` → `Date`; `json`/`jsonb` → parsed value; `bytea` → `Uint8Array`;
 * arrays → arrays. Parameters are `$1`, `$2` … and accept the same types.
 *
 * @module
 */

/** Which engine is behind a {@linkcode Db}. */
export type DbKind = "postgres" | "embedded";

/** How one statement is sent. */
export interface QueryOptions {
  /**
   * Keep the statement prepared on the connection (PostgreSQL): its first run
   * there parses and describes it, every later run is one round trip instead
   * of two. Only for fixed statement text run often (the packer's and
   * marker's statements); the embedded engine ignores it.
   */
  prepare?: boolean;
}

/** {@linkcode QueryOptions} of a fixed statement run often: kept prepared. */
export const PREPARED: Readonly<QueryOptions> = Object.freeze({ prepare: true });

/** Something SQL can be run on: the database itself or an open transaction. */
export interface DbQuery {
  /** Run one statement with `$n` parameters and return its rows. */
  query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<T[]>;
  /** Run a script of one or more statements without parameters (DDL, migrations). */
  exec(script: string): Promise<void>;
}

/** An open transaction. Use only inside the callback it was passed to. */
export type DbTx = DbQuery;

/** A connection (pool) to the DES metadata database. */
export interface Db extends DbQuery {
  /** The engine. */
  readonly kind: DbKind;
  /** Where it is, for messages: a URL without its password, or the embedded directory. */
  readonly location: string;
  /**
   * Run `fn` in a transaction: commit when it resolves, roll back when it
   * throws. On the embedded engine transactions run one at a time, and `fn`
   * must use `tx`, never the `Db` itself (that would wait for the transaction).
   */
  transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T>;
  /**
   * Subscribe to NOTIFY on `channel` (case-sensitive). Returns the function
   * that unsubscribes. The subscription is renewed after a lost connection;
   * `options.onListen` runs after every (re)subscription, so a user can
   * re-read what it may have missed meanwhile.
   */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    options?: ListenOptions,
  ): Promise<() => Promise<void>>;
  /** `NOTIFY channel, payload`, delivered to listeners when committed. */
  notify(channel: string, payload: string): Promise<void>;
  /** Close all connections (idempotent). */
  close(): Promise<void>;
}

/** Options of {@linkcode Db.listen}. */
export interface ListenOptions {
  /**
   * Called once the subscription is in place: the first time, and again after
   * every reconnect. Notifications sent while it was not in place are lost;
   * re-read the state they would have announced here.
   */
  onListen?: () => void;
  /**
   * Called when the subscription is lost (its connection closed): from now
   * until the next `onListen`, notifications are missed. Never called by an
   * engine that has no connection to lose.
   */
  onLost?: () => void;
}

/** Options for {@linkcode Db} implementations. */
export interface DbOptions {
  /** PostgreSQL: largest number of pooled connections (default 10; LISTEN uses one more). */
  max?: number;
  /** PostgreSQL: seconds to wait for a connection (default 10). */
  connectTimeoutSeconds?: number;
  /** PostgreSQL: `application_name` shown in `pg_stat_activity` (default `des`). */
  applicationName?: string;
}
