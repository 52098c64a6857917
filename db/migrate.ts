/**
 * Versioned schema migrations, recorded in `des_schema_version`.
 *
 * Each migration runs in its own transaction that first takes a
 * transaction-scoped advisory lock, so two processes migrating at once run
 * one after the other and the second finds nothing to do.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DesConfigError } from "../core/errors.ts";
import type { Db, DbTx } from "./db.ts";
import { type MigrationFile, MIGRATIONS } from "./migration_files.ts";

/** Key of the advisory lock held while migrating ("DESMIGR1" as an int64). */
export const MIGRATION_LOCK_KEY = "4919429759379132977";

/** What {@linkcode migrate} did. */
export interface MigrateResult {
  /** Names of the migrations applied by this call, in order. */
  applied: string[];
  /** The schema version after the call. */
  version: number;
}

/** SHA-256 (hex) of a script with line endings normalised to LF. */
export function migrationChecksum(sql: string): string {
  return createHash("sha256").update(sql.replaceAll("\r\n", "\n")).digest("hex");
}

function checkList(migrations: readonly MigrationFile[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1 || !/^\d{4}_[a-z0-9_]+\.sql$/.test(m.name)) {
      throw new DesConfigError(
        `migration list is malformed at ${m.name}: versions must run 1, 2, 3 … and names NNNN_words.sql`,
        { version: m.version, name: m.name },
      );
    }
  });
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function appliedVersions(tx: DbTx): Promise<Map<number, AppliedRow>> {
  await tx.exec(`create table if not exists des_schema_version (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`);
  const rows = await tx.query<AppliedRow>(
    "select version, name, checksum from des_schema_version order by version",
  );
  return new Map(rows.map((r) => [r.version, r]));
}

function checkApplied(applied: Map<number, AppliedRow>, known: readonly MigrationFile[]): void {
  for (const row of applied.values()) {
    const file = known[row.version - 1];
    if (!file) {
      throw new DesConfigError(
        `the database schema is at version ${row.version} (${row.name}), newer than this build knows (${known.length}); upgrade DES`,
        { version: row.version, known: known.length },
      );
    }
    if (migrationChecksum(file.sql) !== row.checksum) {
      throw new DesConfigError(
        `migration ${file.name} was changed after it was applied (checksum ${row.checksum} in the database, ${
          migrationChecksum(file.sql)
        } in this build); never edit an applied migration, add a new one`,
        { version: row.version, name: file.name },
      );
    }
  }
}

/**
 * Bring the schema up to date. Re-running is a no-op. Throws
 * `DesConfigError` when an applied migration was edited or the database is
 * newer than this build.
 */
export async function migrate(
  db: Db,
  migrations: readonly MigrationFile[] = MIGRATIONS,
): Promise<MigrateResult> {
  checkList(migrations);
  const applied: string[] = [];
  for (const migration of migrations) {
    await db.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
      const done = await appliedVersions(tx);
      checkApplied(done, migrations);
      if (done.has(migration.version)) return;
      await tx.exec(migration.sql);
      await tx.query(
        "insert into des_schema_version (version, name, checksum) values ($1, $2, $3)",
        [migration.version, migration.name, migrationChecksum(migration.sql)],
      );
      applied.push(migration.name);
    });
  }
  if (migrations.length === 0) {
    await db.transaction(async (tx) => checkApplied(await appliedVersions(tx), migrations));
  }
  return { applied, version: migrations.length };
}

/** The current schema version (0 when nothing is applied). */
export async function schemaVersion(db: Db): Promise<number> {
  const [{ exists }] = await db.query<{ exists: boolean }>(
    "select to_regclass('des_schema_version') is not null as exists",
  );
  if (!exists) return 0;
  const [{ version }] = await db.query<{ version: number | null }>(
    "select max(version) as version from des_schema_version",
  );
  return version ?? 0;
}
