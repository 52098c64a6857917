/**
 * Test databases: a fresh, uniquely named PostgreSQL database on
 * `DES_TEST_DATABASE_URL`, or a fresh embedded database in a temp directory,
 * each dropped by `drop()`.
 *
 * @module
 */

import { cp } from "node:fs/promises";
import type { Db } from "../../db/db.ts";
import { EmbeddedDb } from "../../db/embedded_db.ts";
import { migrate } from "../../db/migrate.ts";
import { openDb } from "../../db/open_db.ts";

/** The server tests create their databases on. */
export const TEST_DATABASE_URL: string = Deno.env.get("DES_TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

/** A database that exists only for one test. */
export interface TestDatabase {
  /** URL to open it again (`postgres://…` or `embedded:/dir`). */
  url: string;
  /** An open handle. */
  db: Db;
  /** Close the handle and delete the database. */
  drop(): Promise<void>;
  /** Same as `drop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for test databases. */
export interface TestDatabaseOptions {
  /** Apply all migrations before returning (default false). */
  migrate?: boolean;
  /** Pool size (PostgreSQL only; default 10). */
  max?: number;
}

function uniqueName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `des_test_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function asTestDatabase(
  url: string,
  db: Db,
  options: TestDatabaseOptions,
  remove: () => Promise<void>,
): Promise<TestDatabase> {
  if (options.migrate) await migrate(db);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await db.close();
    await remove();
  };
  return { url, db, drop, [Symbol.asyncDispose]: drop };
}

/** Create a fresh PostgreSQL database on {@linkcode TEST_DATABASE_URL}. */
export async function createTestDatabase(
  options: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  const name = uniqueName();
  const admin = await openDb(TEST_DATABASE_URL, { max: 1 });
  try {
    await admin.exec(`create database ${name}`);
  } finally {
    await admin.close();
  }
  const url = withDatabase(TEST_DATABASE_URL, name);
  const db = await openDb(url, { max: options.max ?? 10 });
  return asTestDatabase(url, db, options, async () => {
    const admin = await openDb(TEST_DATABASE_URL, { max: 1 });
    try {
      await admin.exec(`drop database if exists ${name} with (force)`);
    } finally {
      await admin.close();
    }
  });
}

/**
 * Where `deno task test` keeps the empty embedded database that every test
 * file of the run copies (made by the first file that needs it); unset, each
 * test file makes its own.
 */
const RUN_TEMPLATE = Deno.env.get("DES_TEST_EMBEDDED_TEMPLATE");

let template: Promise<string> | undefined;

/** An empty embedded database to copy, made once per run or process (initdb takes seconds). */
function embeddedTemplate(): Promise<string> {
  template ??= RUN_TEMPLATE ? runTemplate(RUN_TEMPLATE) : processTemplate();
  return template;
}

async function newTemplate(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "des-pglite-template-" });
  const db = await EmbeddedDb.open(dir);
  await db.close();
  return dir;
}

async function processTemplate(): Promise<string> {
  const dir = await newTemplate();
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  });
  return dir;
}

/** The run's template at `path`; a complete one appears there at once (a rename) or not at all. */
async function runTemplate(path: string): Promise<string> {
  const present = () => Deno.stat(path).then(() => true, () => false);
  if (await present()) return path;
  const made = await newTemplate();
  try {
    await Deno.rename(made, path);
  } catch (error) {
    await Deno.remove(made, { recursive: true });
    if (!await present()) throw error;
  }
  return path;
}

/** Create a fresh embedded (PGlite) database in a temp directory. */
export async function createEmbeddedTestDatabase(
  options: TestDatabaseOptions = {},
): Promise<TestDatabase> {
  const source = await embeddedTemplate();
  const dir = await Deno.makeTempDir({ prefix: "des-pglite-" });
  await cp(`${source}/pgdata`, `${dir}/pgdata`, { recursive: true });
  const url = `embedded:${dir}`;
  const db = await openDb(url);
  return asTestDatabase(url, db, options, () => Deno.remove(dir, { recursive: true }));
}

/** Both engines, for tests that must pass on each. */
export const TEST_ENGINES: readonly {
  kind: "postgres" | "embedded";
  create: (options?: TestDatabaseOptions) => Promise<TestDatabase>;
}[] = [
  { kind: "postgres", create: createTestDatabase },
  { kind: "embedded", create: createEmbeddedTestDatabase },
];
