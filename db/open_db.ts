/**
 * Open the metadata database named by a URL (`DES_DATABASE_URL`).
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import type { Db, DbOptions } from "./db.ts";
import { openSharedEmbedded } from "./shared_embedded.ts";
import { PostgresDb } from "./postgres_db.ts";

/** The embedded default used when `DES_DATABASE_URL` is not set. */
export const DEFAULT_DATABASE_URL = "embedded:.des/db";

/**
 * Open a database and check that it answers:
 * - `postgres://…` or `postgresql://…` → PostgreSQL (postgres.js pool);
 * - `embedded:/path/dir` (or a relative path) → PGlite persisted in that directory,
 *   one engine per directory per process, shared by every opener;
 * - `embedded:memory` → PGlite in memory.
 *
 * Throws `DesConfigError` for an unknown scheme and `DesUnavailableError` when
 * the server cannot be reached (the message names the host, never the password).
 */
export async function openDb(url: string, options: DbOptions = {}): Promise<Db> {
  if (url.startsWith("embedded:")) return await openSharedEmbedded(url.slice("embedded:".length));
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const db = new PostgresDb(url, options);
    try {
      await db.query("select 1");
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    return db;
  }
  throw new DesConfigError(
    'DES_DATABASE_URL must start with "postgres://", "postgresql://" or "embedded:"',
    { scheme: url.split(":")[0] },
  );
}
