/**
 * {@linkcode Db} on PGlite, PostgreSQL compiled to WebAssembly, running in
 * this process: the embedded default that needs no server.
 *
 * A directory `dir` holds the database in `dir/pgdata` and a lock file
 * `dir/des-db.lock` that keeps a second process (or a second instance in this
 * process) from opening the same data. `memory` keeps everything in memory.
 *
 * @module
 */

import { PGlite, type Transaction } from "@electric-sql/pglite";
import { DesConfigError, DesUnavailableError } from "../core/errors.ts";
import type { DbCopyRows } from "./copy_text.ts";
import type { Db, DbTx, ListenOptions } from "./db.ts";
import { dbSpan, txSpan } from "./db_spans.ts";
import { quoteIdent } from "./quote_ident.ts";

type Runner = PGlite | Transaction;

function txOf(runner: Runner): DbTx {
  return {
    query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      return dbSpan(text, async () => (await runner.query<T>(text, params as unknown[])).rows);
    },
    exec(script: string): Promise<void> {
      return dbSpan(script, async () => {
        await runner.exec(script);
      });
    },
  };
}

async function lockDirectory(dir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/des-db.lock`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!await file.tryLock(true)) {
    file.close();
    throw new DesUnavailableError(
      `the embedded database in ${dir} is in use by another process or instance`,
      { dir, lock: path },
    );
  }
  return file;
}

/** {@linkcode Db} over PGlite. Create with `openDb("embedded:/dir")` or `openDb("embedded:memory")`. */
export class EmbeddedDb implements Db, DbCopyRows {
  /** Always `"embedded"`. */
  readonly kind = "embedded" as const;
  /** `embedded:<dir>` or `embedded:memory`. */
  readonly location: string;
  readonly #pg: PGlite;
  readonly #lock: Deno.FsFile | undefined;
  readonly #direct: DbTx;
  #closed = false;

  private constructor(location: string, pg: PGlite, lock: Deno.FsFile | undefined) {
    this.location = location;
    this.#pg = pg;
    this.#lock = lock;
    this.#direct = txOf(pg);
  }

  /** Open (creating on first use) the database in `dir`, or in memory when `dir` is `"memory"`. */
  static async open(dir: string): Promise<EmbeddedDb> {
    if (dir === "") throw new DesConfigError("embedded database needs a directory or `memory`");
    if (dir === "memory") {
      return new EmbeddedDb("embedded:memory", await PGlite.create(), undefined);
    }
    const lock = await lockDirectory(dir);
    try {
      const pg = await PGlite.create(`${dir}/pgdata`);
      return new EmbeddedDb(`embedded:${dir}`, pg, lock);
    } catch (err) {
      await lock.unlock().catch(() => {});
      lock.close();
      throw new DesUnavailableError(`cannot open the embedded database in ${dir}: ${err}`, {
        dir,
      }, err);
    }
  }

  /** Run one statement. */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#direct.query<T>(text, params);
  }

  /**
   * `COPY table (columns) FROM` COPY text, handed to the engine as a blob:
   * no parameter to encode, and the engine inserts the rows in bulk.
   */
  async copyRows(table: string, columns: readonly string[], text: string): Promise<void> {
    const statement = `copy ${quoteIdent(table)} (${
      columns.map(quoteIdent).join(", ")
    }) from '/dev/blob'`;
    await dbSpan(statement, () => this.#pg.query(statement, [], { blob: new Blob([text]) }));
  }

  /** Run a multi-statement script. */
  exec(script: string): Promise<void> {
    return this.#direct.exec(script);
  }

  /** Run `fn` in a transaction; transactions run one at a time. */
  transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    return txSpan(() => this.#pg.transaction((tx) => fn(txOf(tx))));
  }

  /**
   * LISTEN in process; `channel` is quoted, so it is case-sensitive as on
   * PostgreSQL. The engine has no connection to lose: `onListen` runs once.
   */
  async listen(
    channel: string,
    onPayload: (payload: string) => void,
    options: ListenOptions = {},
  ): Promise<() => Promise<void>> {
    const quoted = quoteIdent(channel);
    const handler = (payload: string) => onPayload(payload);
    await this.#pg.listen(quoted, handler);
    options.onListen?.();
    // PGlite's own unsubscribe function loses the quoting of the channel name
    // (and would unlisten the lower-cased channel), so unlisten by name here.
    let done = false;
    return async () => {
      if (done || this.#closed) return;
      done = true;
      await this.#pg.unlisten(quoted, handler);
    };
  }

  /** `pg_notify(channel, payload)`. */
  async notify(channel: string, payload: string): Promise<void> {
    await this.query("select pg_notify($1, $2)", [channel, payload]);
  }

  /** Close the engine (flushing to disk) and release the directory lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#pg.close();
    } finally {
      if (this.#lock) {
        await this.#lock.unlock().catch(() => {});
        this.#lock.close();
      }
    }
  }
}
