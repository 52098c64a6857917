/**
 * One embedded engine per directory per process. PGlite has a single backend
 * and its directory is locked against a second opener, so when several
 * components of one process (the all-in-one `serve`: marker, packer,
 * retriever) open the same `embedded:` URL they share one instance; it closes
 * when the last of them closes.
 *
 * @module
 */

import { resolve } from "node:path";
import type { DbCopyRows } from "./copy_text.ts";
import type { Db, DbKind, DbTx, ListenOptions } from "./db.ts";
import { EmbeddedDb } from "./embedded_db.ts";

interface Entry {
  db: Promise<EmbeddedDb>;
  refs: number;
}

const open = new Map<string, Entry>();

/** A handle on a shared embedded engine; `close()` releases this handle only. */
class SharedEmbeddedDb implements Db, DbCopyRows {
  #closed = false;
  /** @param key the directory key @param inner the shared engine */
  constructor(private readonly key: string, private readonly inner: EmbeddedDb) {}
  /** Always `embedded`. */
  get kind(): DbKind {
    return this.inner.kind;
  }
  /** The directory. */
  get location(): string {
    return this.inner.location;
  }
  /** See {@linkcode Db.query}. */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]> {
    return this.inner.query<T>(text, params);
  }
  /** See {@linkcode Db.exec}. */
  exec(script: string): Promise<void> {
    return this.inner.exec(script);
  }
  /** See {@linkcode DbCopyRows.copyRows}. */
  copyRows(table: string, columns: readonly string[], text: string): Promise<void> {
    return this.inner.copyRows(table, columns, text);
  }
  /** See {@linkcode Db.transaction}. */
  transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    return this.inner.transaction(fn);
  }
  /** See {@linkcode Db.listen}. */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    options?: ListenOptions,
  ): Promise<() => Promise<void>> {
    return this.inner.listen(channel, onPayload, options);
  }
  /** See {@linkcode Db.notify}. */
  notify(channel: string, payload: string): Promise<void> {
    return this.inner.notify(channel, payload);
  }
  /** Release this handle; the engine closes with its last handle. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const entry = open.get(this.key);
    if (!entry) return;
    entry.refs--;
    if (entry.refs === 0) {
      open.delete(this.key);
      await this.inner.close();
    }
  }
}

/** Open `embedded:<dir>` (or `embedded:memory`, never shared) for this process. */
export async function openSharedEmbedded(dir: string): Promise<Db> {
  if (dir === "memory") return await EmbeddedDb.open(dir);
  const key = resolve(dir);
  let entry = open.get(key);
  if (!entry) {
    entry = { db: EmbeddedDb.open(dir), refs: 0 };
    open.set(key, entry);
    entry.db.catch(() => open.delete(key));
  }
  entry.refs++;
  try {
    return new SharedEmbeddedDb(key, await entry.db);
  } catch (error) {
    entry.refs--;
    throw error;
  }
}
