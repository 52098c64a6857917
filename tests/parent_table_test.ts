import { DesInputError } from "../core/errors.ts";
import { isValidName, shardOf } from "../naming/name_codec.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import type { QueryOptions } from "../db/db.ts";
import { ParentSql } from "../parent/parent_sql.ts";
import { ParentTable } from "../parent/parent_table.ts";
import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import { createParentFixture, type ParentFixture } from "./_helpers/parent_fixture.ts";

const FORMAT = { shardBits: 2, prefix: "t" };
const names = (nodeId = 1) => new NameGenerator({ ...FORMAT, nodeId });

interface Row {
  id: string;
  state: string;
  archive_name: string | null;
  archive_shard: number | null;
  archive_container: string | null;
  archived_on: Date | null;
  failure_note: string | null;
}

async function allRows(fx: ParentFixture): Promise<Map<string, Row>> {
  const rows = await fx.db.query<Row>(
    `SELECT doc_id::text AS id, state, archive_name, archive_shard, archive_container,
            archived_on, failure_note FROM ${fx.table}`,
  );
  return new Map(rows.map((r) => [r.id, r]));
}

async function markAll(table: ParentTable, limit: number, gen = names()): Promise<number> {
  let total = 0;
  for (let n = -1; n !== 0;) total += n = await table.markBatch({ names: gen, limit });
  return total;
}

for (const idType of ["bigint", "text", "uuid"] as const) {
  Deno.test(`markBatch marks exactly the eligible rows (${idType} ids)`, async () => {
    const fx = await createParentFixture({ rows: 300, originals: "none", idType });
    try {
      const table = new ParentTable(fx.db, fx.source);
      assertEquals(await table.countEligible(), fx.eligibleIds.size);
      assertEquals(await markAll(table, 64), fx.eligibleIds.size);
      const rows = await allRows(fx);
      for (const [id, row] of rows) {
        if (!fx.eligibleIds.has(id)) {
          assertEquals([row.state, row.archive_name], ["live", null], `row ${id} must stay live`);
          continue;
        }
        assertEquals(row.state, "queued");
        assert(isValidName(row.archive_name, FORMAT), `bad name ${row.archive_name}`);
        assertEquals(row.archive_shard, shardOf(row.archive_name!, FORMAT));
      }
      assertEquals(await table.markBatch({ names: names(), limit: 64 }), 0);
      const counts = await table.countByStatus();
      assertEquals(counts, {
        eligible: 300 - fx.eligibleIds.size,
        marked: fx.eligibleIds.size,
        packed: 0,
        failed: 0,
        other: 0,
      });
    } finally {
      await fx.close();
    }
  });
}

Deno.test("markBatch takes the oldest rows first and honours maxAgeDays and now", async () => {
  const fx = await createParentFixture({ rows: 50, originals: "none", ageDays: (i) => 100 + i });
  try {
    const table = new ParentTable(fx.db, fx.source);
    assertEquals(await table.markBatch({ names: names(), limit: 5 }), 5);
    const marked = [...(await allRows(fx)).values()].filter((r) => r.state === "queued");
    const oldest = fx.rows.filter((r) => !r.onHold).sort((a, b) => b.ageDays - a.ageDays);
    assertEquals(marked.map((r) => r.id).sort(), oldest.slice(0, 5).map((r) => r.id).sort());
    // Seen from 200 days ago nothing is old enough.
    const past = new Date(Date.now() - 200 * 86_400_000);
    assertEquals(await table.markBatch({ names: names(), limit: 100, now: past }), 0);
    // With max age 140 only rows at least 140 days old qualify.
    const expected = fx.rows.filter((r) => r.ageDays >= 140 && !r.onHold).length - 5;
    assertEquals(await table.markBatch({ names: names(), limit: 100, maxAgeDays: 140 }), expected);
  } finally {
    await fx.close();
  }
});

Deno.test("markedRows pages through one shard in name order", async () => {
  const fx = await createParentFixture({ rows: 400, originals: "none" });
  try {
    const table = new ParentTable(fx.db, fx.source);
    await markAll(table, 1000);
    const byShard = new Map<number, string[]>();
    for (const row of (await allRows(fx)).values()) {
      if (row.state !== "queued") continue;
      byShard.set(row.archive_shard!, [...(byShard.get(row.archive_shard!) ?? []), row.id]);
    }
    for (const [shard, ids] of byShard) {
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await table.markedRows({ shard, limit: 7, afterName: after });
        if (page.length === 0) break;
        for (const r of page) {
          assertEquals(r.shard, shard);
          assert(r.location.endsWith(`/${r.id}.bin`));
          assertEquals(r.contentType, "application/octet-stream");
          assertEquals(r.size, fx.rows.find((x) => x.id === r.id)!.size);
          assert(r.createdAt instanceof Date);
        }
        seen.push(...page.map((r) => r.desName));
        after = page[page.length - 1].desName;
      }
      assertEquals(seen.length, ids.length);
      assertEquals(seen, [...seen].sort());
    }
  } finally {
    await fx.close();
  }
});

Deno.test("markPacked flips only rows still marked with that name, once", async () => {
  const fx = await createParentFixture({ rows: 40, originals: "none" });
  try {
    const table = new ParentTable(fx.db, fx.source);
    await markAll(table, 100);
    const perShard = new Map<number, number>();
    for (const r of (await allRows(fx)).values()) {
      if (r.archive_shard !== null) {
        perShard.set(r.archive_shard, (perShard.get(r.archive_shard) ?? 0) + 1);
      }
    }
    const shard = [...perShard].sort((a, b) => b[1] - a[1])[0][0];
    const page = await table.markedRows({ shard, limit: 3 });
    assertEquals(page.length, 3);
    const packedAt = new Date("2025-06-01T12:00:00Z");
    const stale = { id: page[2].id, desName: "t-0-0000000000000" };
    assertEquals(await table.markPacked([page[0], page[1], stale], "s3://arc/c1.des", packedAt), 2);
    assertEquals(await table.markPacked([page[0], page[1]], "s3://arc/c1.des", packedAt), 0);
    const rows = await allRows(fx);
    assertEquals(rows.get(page[0].id)!.state, "archived");
    assertEquals(rows.get(page[0].id)!.archive_container, "s3://arc/c1.des");
    assertEquals(rows.get(page[0].id)!.archived_on!.toISOString(), packedAt.toISOString());
    assertEquals(rows.get(page[2].id)!.state, "queued");
    assertEquals(await table.markPacked([], "x", packedAt), 0);
  } finally {
    await fx.close();
  }
});

Deno.test("markPacked is one statement that probes the id index, not a hash of the table", async () => {
  const fx = await createParentFixture({ rows: 3000, originals: "none" });
  try {
    const table = new ParentTable(fx.db, fx.source);
    await markAll(table, 5000);
    await fx.db.exec(`ANALYZE ${fx.table}`);
    const rows = (await table.markedRows({ shard: 0, limit: 1000 })).slice(0, 1000);
    const sql = new ParentSql(fx.source, "bigint");
    const plan = (await fx.db.query<{ "QUERY PLAN": string }>(`EXPLAIN ${sql.markPacked}`, [
      rows.map((r) => r.id),
      rows.map((r) => r.desName),
      "s3://arc/c.des",
      new Date().toISOString(),
    ])).map((r) => r["QUERY PLAN"]).join("\n");
    assert(/Nested Loop/.test(plan), plan);
    assert(!/Hash Join|Merge Join|Seq Scan/.test(plan), plan);
    let trips = 0;
    const counted = Object.assign(Object.create(fx.db), {
      query: (text: string, params?: readonly unknown[], options?: QueryOptions) => (
        trips++, fx.db.query(text, params, options)
      ),
      exec: (script: string) => (trips++, fx.db.exec(script)),
      transaction: () => Promise.reject(new Error("markPacked needs no transaction")),
    });
    const flipping = new ParentTable(counted, fx.source);
    await flipping.countEligible();
    trips = 0;
    assertEquals(await flipping.markPacked(rows, "s3://arc/c.des", new Date()), rows.length);
    assertEquals(trips, 1, "statements per flip");
  } finally {
    await fx.close();
  }
});

Deno.test("markFailed dead-letters eligible or marked rows with the reason", async () => {
  const fx = await createParentFixture({ rows: 20, originals: "none" });
  try {
    const table = new ParentTable(fx.db, fx.source);
    const live = [...fx.eligibleIds][0];
    assertEquals(await table.markFailed([live], "original missing"), 1);
    await markAll(table, 100);
    const queued = [...(await allRows(fx)).values()].find((r) => r.state === "queued")!;
    assertEquals(await table.markFailed([queued.id, "999999"], ["bad bytes", "no row"]), 1);
    const rows = await allRows(fx);
    assertEquals([rows.get(live)!.state, rows.get(live)!.failure_note], [
      "broken",
      "original missing",
    ]);
    assertEquals(rows.get(queued.id)!.failure_note, "bad bytes");
    assertEquals(await table.markFailed([live], "again"), 0);
    await assertRejects(() => table.markFailed(["1", "2"], ["one"]), DesInputError);
    assertEquals((await table.countByStatus()).failed, 2);
  } finally {
    await fx.close();
  }
});

Deno.test("markBatchIsolating marks the good rows and fails the bad one with its reason", async () => {
  const fx = await createParentFixture({
    rows: 100,
    originals: "none",
    setupSql: `ALTER TABLE catalog.documents ADD CONSTRAINT no_name_for_doc_42
      CHECK (doc_id <> 42 OR archive_name IS NULL)`,
  });
  try {
    const table = new ParentTable(fx.db, fx.source);
    await assertRejects(() => table.markBatch({ names: names(), limit: 1000 }));
    assertEquals((await table.countByStatus()).marked, 0);
    const result = await table.markBatchIsolating({ names: names(), limit: 1000 });
    assertEquals(result.marked, fx.eligibleIds.size - 1);
    assertEquals(result.failed.map((f) => f.id), ["42"]);
    const row = (await allRows(fx)).get("42")!;
    assertEquals(row.state, "broken");
    assert(row.failure_note!.includes("no_name_for_doc_42"), row.failure_note!);
    assert(row.failure_note!.startsWith("[23514]"), row.failure_note!);
  } finally {
    await fx.close();
  }
});
