import assert from "node:assert/strict";
import { DesConfigError } from "../core/errors.ts";
import { openDb } from "../db/open_db.ts";
import { migrate, migrationChecksum, schemaVersion } from "../db/migrate.ts";
import { MIGRATIONS } from "../db/migration_files.ts";
import { createTestDatabase, TEST_ENGINES } from "./_helpers/pg.ts";

const TABLES = [
  "des_schema_version",
  "des_settings",
  "des_shards",
  "des_containers",
  "des_pack_jobs",
  "des_retrievers",
  "des_read_audit",
  "des_backlog_samples",
  "des_read_audit_rejected",
  "des_tombstones",
  "des_read_audit_default",
  "des_scrub_results",
  "des_damaged_files",
];

Deno.test("every db/migrations/*.sql file is in the migration list, in order", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL("../db/migrations/", import.meta.url))) {
    if (entry.name.endsWith(".sql")) files.push(entry.name);
  }
  assert.deepEqual(files.sort(), MIGRATIONS.map((m) => m.name));
  for (const m of MIGRATIONS) {
    const text = await Deno.readTextFile(new URL(`../db/migrations/${m.name}`, import.meta.url));
    assert.equal(migrationChecksum(text), migrationChecksum(m.sql));
  }
});

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: migrate creates the schema and re-running is a no-op`, async () => {
    await using t = await engine.create();
    assert.equal(await schemaVersion(t.db), 0);
    const first = await migrate(t.db);
    assert.deepEqual(first, { applied: MIGRATIONS.map((m) => m.name), version: MIGRATIONS.length });
    const tables = await t.db.query<{ name: string }>(
      "select tablename as name from pg_tables where tablename like 'des\\_%'",
    );
    assert.deepEqual(tables.map((r) => r.name).sort(), [...TABLES].sort());
    const second = await migrate(t.db);
    assert.deepEqual(second, { applied: [], version: MIGRATIONS.length });
    assert.equal(await schemaVersion(t.db), MIGRATIONS.length);
    const [row] = await t.db.query<{ checksum: string; name: string }>(
      "select name, checksum from des_schema_version where version = 1",
    );
    assert.deepEqual(row, {
      name: MIGRATIONS[0].name,
      checksum: migrationChecksum(MIGRATIONS[0].sql),
    });
  });

  Deno.test(`${engine.kind}: concurrent migrate calls apply each migration once`, async () => {
    await using t = await engine.create();
    const results = await Promise.all([migrate(t.db), migrate(t.db), migrate(t.db)]);
    // The calls take turns migration by migration, so one call's list may skip what another applied.
    const applied = results.flatMap((r) => r.applied).sort();
    assert.deepEqual(applied, MIGRATIONS.map((m) => m.name));
    const order = await t.db.query<{ version: number }>(
      "select version from des_schema_version order by applied_at, version",
    );
    assert.deepEqual(order.map((r) => r.version), MIGRATIONS.map((m) => m.version));
    const [{ n }] = await t.db.query<{ n: number }>("select count(*) as n from des_schema_version");
    assert.equal(n, MIGRATIONS.length);
  });

  Deno.test(`${engine.kind}: an edited applied migration is refused`, async () => {
    await using t = await engine.create({ migrate: true });
    await t.db.query("update des_schema_version set checksum = 'deadbeef' where version = 1");
    await assert.rejects(migrate(t.db), (err: unknown) => {
      assert.ok(err instanceof DesConfigError);
      assert.match(err.message, /0001_init\.sql was changed after it was applied/);
      return true;
    });
    const edited = [{ ...MIGRATIONS[0], sql: MIGRATIONS[0].sql + "\n-- edit\n" }];
    await t.db.query("update des_schema_version set checksum = $1 where version = 1", [
      migrationChecksum(MIGRATIONS[0].sql),
    ]);
    await assert.rejects(migrate(t.db, edited), /was changed after it was applied/);
    assert.deepEqual((await migrate(t.db)).applied, []);
  });

  Deno.test(`${engine.kind}: a database newer than this build is refused`, async () => {
    await using t = await engine.create({ migrate: true });
    await t.db.query(
      "insert into des_schema_version (version, name, checksum) values (99, '0099_future.sql', 'x')",
    );
    await assert.rejects(migrate(t.db), /newer than this build/);
  });

  Deno.test(`${engine.kind}: a failing migration rolls back completely`, async () => {
    await using t = await engine.create({ migrate: true });
    const broken = [...MIGRATIONS, {
      version: MIGRATIONS.length + 1,
      name: "9999_broken.sql",
      sql: "create table des_half_done (x int); select * from no_such_table;",
    }];
    await assert.rejects(migrate(t.db, broken));
    const [{ exists }] = await t.db.query<{ exists: boolean }>(
      "select to_regclass('des_half_done') is not null as exists",
    );
    assert.equal(exists, false);
    assert.equal(await schemaVersion(t.db), MIGRATIONS.length);
  });
}

Deno.test("postgres: migrations from separate pools serialize on the advisory lock", async () => {
  await using t = await createTestDatabase();
  const holder = await openDb(t.url, { max: 1 });
  const other = await openDb(t.url, { max: 2 });
  try {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holding = holder.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock($1::bigint)", ["4919429759379132977"]);
      locked();
      await released;
    });
    await isLocked;
    const migrating = migrate(other);
    // Wait until the migration is blocked on the lock, then check nothing was applied.
    for (;;) {
      const [{ waiting }] = await t.db.query<{ waiting: number }>(
        "select count(*) as waiting from pg_locks where locktype = 'advisory' and not granted",
      );
      if (waiting > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await schemaVersion(t.db), 0);
    release();
    await holding;
    const [a, b] = await Promise.all([migrating, migrate(t.db)]);
    // The calls take turns migration by migration, so one call's list may skip what the other applied.
    assert.deepEqual([...a.applied, ...b.applied].sort(), MIGRATIONS.map((m) => m.name));
    const order = await t.db.query<{ version: number }>(
      "select version from des_schema_version order by applied_at, version",
    );
    assert.deepEqual(order.map((r) => r.version), MIGRATIONS.map((m) => m.version));
  } finally {
    await holder.close();
    await other.close();
  }
});
