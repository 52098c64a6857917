import assert from "node:assert/strict";
import {
  AUDIT_DEFAULT_PARTITION,
  auditPartitionName,
  auditPartitions,
  maintainAuditPartitions,
  utcDay,
} from "../db/audit_partitions.ts";
import type { DbQuery } from "../db/db.ts";
import { migrate } from "../db/migrate.ts";
import { MIGRATIONS } from "../db/migration_files.ts";
import { insertReadAudit, type ReadAuditEntry } from "../db/read_audit.ts";
import { TEST_ENGINES } from "./_helpers/pg.ts";

const DAY = 86_400_000;
const TODAY = utcDay(new Date());

function day(offset: number): Date {
  return new Date(TODAY.getTime() + offset * DAY);
}

function entry(at: Date, i: number): ReadAuditEntry {
  return { at, name: `0a-${i}`, status: 200, bytes: i, client: "c", traceId: `t${i}` };
}

/** Where each row is: name of its partition by row name. */
async function placement(db: DbQuery): Promise<Record<string, string>> {
  const rows = await db.query<{ name: string; part: string }>(
    "select name, tableoid::regclass::text as part from des_read_audit order by name",
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.part]));
}

/** Count every row deleted from the audit table or any of its partitions, now or later. */
async function countDeletes(db: DbQuery): Promise<() => Promise<number>> {
  await db.exec(`
    create table test_audit_deletes (n bigint not null);
    create function test_count_delete() returns trigger language plpgsql as
      $$ begin insert into test_audit_deletes values (1); return old; end $$;
    create trigger test_count_delete after delete on des_read_audit
      for each row execute function test_count_delete();`);
  return async () => {
    const [{ n }] = await db.query<{ n: number }>(
      "select count(*)::int as n from test_audit_deletes",
    );
    return n;
  };
}

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: partitioning a schema-3 audit table keeps every row`, async () => {
    await using t = await engine.create();
    await migrate(t.db, MIGRATIONS.slice(0, 3));
    const ats = [day(-200), day(-31), day(-1), new Date(), day(400)];
    const entries = Array.from({ length: 500 }, (_, i) => entry(ats[i % ats.length], i));
    assert.equal(await insertReadAudit(t.db, entries), 500);
    await t.db.query("update des_read_audit set method = 'GET', route = 'getFile'");
    const before = await t.db.query(
      "select id, at, name, status, bytes, client, trace_id, method, route from des_read_audit order by id",
    );
    await migrate(t.db);
    const after = await t.db.query(
      "select id, at, name, status, bytes, client, trace_id, method, route from des_read_audit order by id",
    );
    assert.deepEqual(after, before);
    const parts = await auditPartitions(t.db);
    assert.deepEqual(parts.map((p) => [p.name, p.from, p.to]), [
      [AUDIT_DEFAULT_PARTITION, null, null],
      ["des_read_audit_legacy", null, day(1)],
    ]);
    const placed = await placement(t.db);
    assert.equal(placed["0a-4"], AUDIT_DEFAULT_PARTITION, "a row stamped a year ahead is moved");
    assert.equal(placed["0a-3"], "des_read_audit_legacy");
    // New rows continue the same id sequence.
    await insertReadAudit(t.db, [entry(new Date(), 1000)]);
    const [{ max }] = await t.db.query<{ max: number }>(
      "select max(id)::int as max from des_read_audit",
    );
    assert.equal(max, 501);
    const done = await maintainAuditPartitions(t.db, { retentionDays: 0, aheadDays: 2 });
    assert.deepEqual(done.created, [day(1), day(2)].map(auditPartitionName));
    assert.equal((await t.db.query("select 1 from des_read_audit")).length, 501);
    // `at` is indexed by BRIN alone, on the parent and on every partition: the legacy one, the
    // default one and those made by the maintenance.
    const atIndexes = await t.db.query<{ table: string; method: string }>(
      `select c.relname as table, am.amname as method
       from pg_index x
       join pg_class i on i.oid = x.indexrelid
       join pg_am am on am.oid = i.relam
       join pg_class c on c.oid = x.indrelid
       join pg_attribute a on a.attrelid = c.oid and a.attnum = x.indkey[0]
       where c.relname like 'des_read_audit%' and a.attname = 'at'
       order by c.relname`,
    );
    const tables = ["des_read_audit", ...parts.map((p) => p.name), ...done.created].sort();
    assert.deepEqual(atIndexes, tables.map((table) => ({ table, method: "brin" })));
    const [{ options }] = await t.db.query<{ options: string[] }>(
      "select reloptions as options from pg_class where relname = 'des_read_audit_at'",
    );
    assert.deepEqual(options, ["autosummarize=on"]);
  });

  Deno.test(`${engine.kind}: an empty audit table needs no legacy partition`, async () => {
    await using t = await engine.create({ migrate: true });
    assert.deepEqual((await auditPartitions(t.db)).map((p) => p.name), [AUDIT_DEFAULT_PARTITION]);
  });

  Deno.test(`${engine.kind}: rows of any date land; strays move into their day`, async () => {
    await using t = await engine.create({ migrate: true });
    const deletes = await countDeletes(t.db);
    const first = await maintainAuditPartitions(t.db, { retentionDays: 30, aheadDays: 3 });
    assert.deepEqual(first.created, [0, 1, 2, 3].map((d) => auditPartitionName(day(d))));
    await insertReadAudit(t.db, [
      entry(new Date(), 1),
      entry(day(-1), 2),
      entry(new Date(day(3000).getTime() + 5000), 3),
      entry(day(-40), 4),
    ]);
    assert.deepEqual(await placement(t.db), {
      "0a-1": auditPartitionName(day(0)),
      "0a-2": AUDIT_DEFAULT_PARTITION,
      "0a-3": AUDIT_DEFAULT_PARTITION,
      "0a-4": AUDIT_DEFAULT_PARTITION,
    });
    const second = await maintainAuditPartitions(t.db, { retentionDays: 30, aheadDays: 3 });
    assert.deepEqual(second.created, [auditPartitionName(day(-1))]);
    assert.equal(second.movedRows, 1);
    assert.equal(second.deletedDefaultRows, 1, "the stray older than the retention");
    assert.deepEqual(await placement(t.db), {
      "0a-1": auditPartitionName(day(0)),
      "0a-2": auditPartitionName(day(-1)),
      "0a-3": AUDIT_DEFAULT_PARTITION,
    });
    assert.equal(await deletes(), 2, "only the moved and the expired strays were deleted");
  });

  Deno.test(`${engine.kind}: retention drops whole partitions, never deletes rows`, async () => {
    await using t = await engine.create({ migrate: true });
    const deletes = await countDeletes(t.db);
    await maintainAuditPartitions(t.db, { retentionDays: 0, aheadDays: 12, now: day(-10) });
    const entries = Array.from({ length: 13 * 20 }, (_, i) => {
      const d = Math.floor(i / 20) - 10;
      return entry(new Date(day(d).getTime() + (i % 20) * 1000), i);
    });
    await insertReadAudit(t.db, entries);
    const result = await maintainAuditPartitions(t.db, { retentionDays: 3, aheadDays: 2 });
    const expectDropped = [-10, -9, -8, -7, -6, -5, -4].map((d) => auditPartitionName(day(d)));
    assert.deepEqual(result.dropped, expectDropped);
    assert.deepEqual(result.created, []);
    const left = (await auditPartitions(t.db)).map((p) => p.name);
    assert.deepEqual(left, [
      AUDIT_DEFAULT_PARTITION,
      ...[-3, -2, -1, 0, 1, 2].map((d) => auditPartitionName(day(d))),
    ]);
    const [{ n, oldest }] = await t.db.query<{ n: number; oldest: Date }>(
      "select count(*)::int as n, min(at) as oldest from des_read_audit",
    );
    assert.equal(n, 6 * 20, "every row of the kept days is there");
    assert.deepEqual(oldest, day(-3));
    assert.equal(await deletes(), 0, "no row was deleted one by one");
  });

  Deno.test(`${engine.kind}: maintainers running at once do not fail`, async () => {
    await using t = await engine.create({ migrate: true });
    const results = await Promise.all(
      Array.from(
        { length: 4 },
        () => maintainAuditPartitions(t.db, { retentionDays: 7, aheadDays: 5 }),
      ),
    );
    assert.ok(results.some((r) => r.ran));
    assert.deepEqual(
      results.flatMap((r) => r.created).sort(),
      [0, 1, 2, 3, 4, 5].map((d) => auditPartitionName(day(d))),
    );
    assert.equal((await auditPartitions(t.db)).length, 7);
  });
}

Deno.test("maintenance refuses an audit table that is not partitioned", async () => {
  await using t = await TEST_ENGINES[0].create();
  await migrate(t.db, MIGRATIONS.slice(0, 4));
  await assert.rejects(
    maintainAuditPartitions(t.db, { retentionDays: 1, aheadDays: 1 }),
    /not partitioned.*des migrate/,
  );
});
