import { Logger } from "../core/log.ts";
import { Registry } from "../core/metrics.ts";
import type { Db } from "../db/db.ts";
import { openDb } from "../db/open_db.ts";
import { isValidName, shardOf } from "../naming/name_codec.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { Marker } from "../mark/marker.ts";
import { ParentTable } from "../parent/parent_table.ts";
import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import { createParentFixture, type ParentFixture } from "./_helpers/parent_fixture.ts";

const FORMAT = { shardBits: 8, prefix: "" };
const quiet = new Logger("marker", { level: "error", sink: () => {} });
const fastBackoff = { baseMs: 1, maxMs: 5 };

function marker(
  db: Db,
  fx: ParentFixture,
  nodeId: number,
  extra: Partial<ConstructorParameters<typeof Marker>[0]> = {},
): Marker {
  return new Marker({
    table: new ParentTable(db, fx.source),
    names: new NameGenerator({ ...FORMAT, nodeId }),
    batchSize: 500,
    logger: quiet,
    backoff: fastBackoff,
    ...extra,
  });
}

async function stateOf(fx: ParentFixture) {
  return await fx.db.query<
    { id: string; state: string; name: string | null; shard: number | null; note: string | null }
  >(
    `SELECT doc_id::text AS id, state, archive_name AS name, archive_shard AS shard,
            failure_note AS note FROM ${fx.table}`,
  );
}

Deno.test("three concurrent markers mark every eligible row exactly once", async () => {
  const fx = await createParentFixture({ rows: 10_000, originals: "none" });
  const dbs = await Promise.all([1, 2, 3].map(() => openDb(fx.url, { max: 2 })));
  try {
    const registry = new Registry();
    const markers = dbs.map((db, i) => marker(db, fx, i + 1, { metrics: registry }));
    const results = await Promise.all(markers.map((m) => m.runOnce()));
    const total = results.reduce((sum, r) => sum + r.marked, 0);
    assertEquals(total, fx.eligibleIds.size);
    assertEquals(results.reduce((sum, r) => sum + r.failed, 0), 0);

    const rows = await stateOf(fx);
    const names = new Set<string>();
    for (const row of rows) {
      if (!fx.eligibleIds.has(row.id)) {
        assertEquals([row.state, row.name], ["live", null], `row ${row.id} is not eligible`);
        continue;
      }
      assertEquals(row.state, "queued", `row ${row.id}`);
      assert(isValidName(row.name, FORMAT), `invalid name ${row.name}`);
      assertEquals(row.shard, shardOf(row.name!, FORMAT));
      names.add(row.name!);
    }
    assertEquals(names.size, fx.eligibleIds.size);
    const young = fx.rows.filter((r) => r.ageDays < 30 && !r.onHold).length;
    const held = fx.rows.filter((r) => r.onHold).length;
    assert(young > 0 && held > 0, "the fixture must hold young and held rows");
    assertEquals(
      registry.counter("des_marker_rows_marked_total", "").get({ source: "fixture-docs" }),
      fx.eligibleIds.size,
    );
    assert(registry.render().includes('des_marker_batch_seconds_count{outcome="ok"'));

    const again = await Promise.all(markers.map((m) => m.runOnce()));
    assertEquals(again.map((r) => r.marked), [0, 0, 0]);
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
    await fx.close();
  }
});

Deno.test("a row the parent refuses is moved to failed with the reason; the rest are marked", async () => {
  const fx = await createParentFixture({
    rows: 2_000,
    originals: "none",
    setupSql: `ALTER TABLE catalog.documents ADD CONSTRAINT archive_name_not_for_1234
      CHECK (doc_id <> 1234 OR archive_name IS NULL)`,
  });
  try {
    assert(fx.eligibleIds.has("1234"));
    const registry = new Registry();
    const result = await marker(fx.db, fx, 1, {
      metrics: registry,
      failingTries: 2,
      concurrency: 1,
    })
      .runOnce();
    assertEquals(result.failed, 1);
    assertEquals(result.marked, fx.eligibleIds.size - 1);
    const rows = new Map((await stateOf(fx)).map((r) => [r.id, r]));
    assertEquals(rows.get("1234")!.state, "broken");
    assert(rows.get("1234")!.note!.includes("archive_name_not_for_1234"));
    for (const id of fx.eligibleIds) if (id !== "1234") assertEquals(rows.get(id)!.state, "queued");
    assertEquals(
      registry.counter("des_marker_errors_total", "").get({
        source: "fixture-docs",
        kind: "permanent",
      }),
      2,
    );
    assertEquals(
      registry.counter("des_marker_rows_failed_total", "").get({ source: "fixture-docs" }),
      1,
    );
  } finally {
    await fx.close();
  }
});

Deno.test("under concurrent markers a refused row is dead-lettered once", async () => {
  const fx = await createParentFixture({
    rows: 3_000,
    originals: "none",
    setupSql: `ALTER TABLE catalog.documents ADD CONSTRAINT archive_name_not_for_2001
      CHECK (doc_id <> 2001 OR archive_name IS NULL)`,
  });
  const dbs = await Promise.all([1, 2, 3].map(() => openDb(fx.url, { max: 3 })));
  try {
    const results = await Promise.all(
      dbs.map((db, i) => marker(db, fx, i + 1, { failingTries: 1 }).runOnce()),
    );
    assertEquals(results.reduce((n, r) => n + r.failed, 0), 1);
    assertEquals(results.reduce((n, r) => n + r.marked, 0), fx.eligibleIds.size - 1);
    const states = new Map((await stateOf(fx)).map((r) => [r.id, r.state]));
    assertEquals(states.get("2001"), "broken");
    for (const id of fx.eligibleIds) if (id !== "2001") assertEquals(states.get(id), "queued");
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
    await fx.close();
  }
});

Deno.test("transient failures (serialization, deadlock) are retried", async () => {
  // The trigger fails the first two marking statements with 40001, then the
  // third with 40P01; sequences are not rolled back, so the fourth try passes.
  const fx = await createParentFixture({
    rows: 300,
    originals: "none",
    setupSql: `
      CREATE SEQUENCE catalog.flaky;
      CREATE FUNCTION catalog.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE n bigint := nextval('catalog.flaky');
      BEGIN
        IF n <= 2 THEN RAISE EXCEPTION 'simulated conflict' USING ERRCODE = '40001'; END IF;
        IF n = 3 THEN RAISE EXCEPTION 'simulated deadlock' USING ERRCODE = '40P01'; END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER flaky BEFORE UPDATE ON catalog.documents
        FOR EACH STATEMENT EXECUTE FUNCTION catalog.flaky();`,
  });
  try {
    const registry = new Registry();
    const result = await marker(fx.db, fx, 1, { metrics: registry }).runOnce();
    assertEquals(result.marked, fx.eligibleIds.size);
    assertEquals(result.retries, 3);
    assertEquals(
      registry.counter("des_marker_errors_total", "").get({
        source: "fixture-docs",
        kind: "transient",
      }),
      3,
    );

    await fx.db.exec(`UPDATE catalog.documents SET state = 'live', archive_name = NULL`);
    await fx.db.exec("ALTER SEQUENCE catalog.flaky RESTART");
    // One batch in flight, so the two failures that exhaust the retry come in sequence order.
    const limited = marker(fx.db, fx, 2, { transientRetries: 1, concurrency: 1 });
    const err = await assertRejects(() => limited.runOnce());
    assert(String((err as { code?: string }).code) === "40001", String(err));
  } finally {
    await fx.close();
  }
});

Deno.test("the same marking SQL works on the embedded engine", async () => {
  const fx = await createParentFixture({
    rows: 1_200,
    originals: "none",
    database: "embedded:memory",
  });
  try {
    const result = await marker(fx.db, fx, 5, { batchSize: 250 }).runOnce();
    assertEquals(result.marked, fx.eligibleIds.size);
    assertEquals(result.batches, Math.ceil(fx.eligibleIds.size / 250));
    const rows = await stateOf(fx);
    const marked = rows.filter((r) => r.state === "queued");
    assertEquals(new Set(marked.map((r) => r.id)), fx.eligibleIds);
    for (const r of marked) assertEquals(r.shard, shardOf(r.name!, FORMAT));
    assertEquals((await marker(fx.db, fx, 5).runOnce()).marked, 0);
  } finally {
    await fx.close();
  }
});

Deno.test("an aborted marker stops between batches", async () => {
  const fx = await createParentFixture({ rows: 1_000, originals: "none" });
  try {
    const controller = new AbortController();
    const m = marker(fx.db, fx, 1, {
      batchSize: 100,
      concurrency: 1,
      signal: controller.signal,
      onBatch: () => controller.abort(),
    });
    const result = await m.runOnce();
    assertEquals([result.marked, result.batches], [100, 1]);
  } finally {
    await fx.close();
  }
});
