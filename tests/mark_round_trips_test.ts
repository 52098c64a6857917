/**
 * The marker's cost per batch in database round trips: `markBatch` is one
 * statement (lock, name, update), so a batch is one round trip whatever its
 * size; the names made for the batch go to the rows oldest first; and two
 * markers racing on one table still mark every eligible row exactly once.
 */

import type { Db, DbTx } from "../db/db.ts";
import { Logger } from "../core/log.ts";
import { Marker } from "../mark/marker.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { ParentTable } from "../parent/parent_table.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { createParentFixture } from "./_helpers/parent_fixture.ts";

const FORMAT = { shardBits: 4, prefix: "" };

/** A Db that counts round trips: each statement one, a transaction two more (BEGIN, COMMIT). */
function countingDb(db: Db): { db: Db; trips: () => number } {
  let trips = 0;
  const wrap = <T extends DbTx>(q: T): DbTx => ({
    query: (text, params) => (trips++, q.query(text, params)),
    exec: (script) => (trips++, q.exec(script)),
  });
  const counted: Db = Object.assign(Object.create(db), {
    ...wrap(db),
    transaction: <R>(fn: (tx: DbTx) => Promise<R>) => {
      trips += 2;
      return db.transaction((tx) => fn(wrap(tx)));
    },
  });
  return { db: counted, trips: () => trips };
}

Deno.test("markBatch: one database round trip per batch, names oldest first", async () => {
  // Distinct ages, so "oldest first" is one order.
  const fx = await createParentFixture({ rows: 400, originals: "none", ageDays: (i) => 40 + i });
  try {
    const counting = countingDb(fx.db);
    const table = new ParentTable(counting.db, fx.source);
    await table.countEligible(); // the source check and this count are not part of a batch
    const names = new NameGenerator({ ...FORMAT, nodeId: 3 });
    const handed: string[][] = [];
    const nextBatch = names.nextBatch.bind(names);
    names.nextBatch = (count) => {
      const batch = nextBatch(count);
      handed.push(batch);
      return batch;
    };
    const before = counting.trips();
    let marked = 0, batches = 0;
    for (let n = -1; n !== 0; batches++) marked += n = await table.markBatch({ names, limit: 100 });
    assertEquals(marked, fx.eligibleIds.size);
    assertEquals(counting.trips() - before, batches, "round trips per batch");
    // The k-th oldest row of a batch carries the k-th name made for it.
    const rows = await fx.db.query<{ name: string }>(
      `SELECT archive_name AS name FROM ${fx.table} WHERE state = 'queued'
        ORDER BY inserted_on`,
    );
    const expected = handed.flatMap((batch, i) =>
      batch.slice(0, Math.max(0, Math.min(100, marked - 100 * i)))
    );
    assertEquals(rows.map((r) => r.name), expected);
  } finally {
    await fx.close();
  }
});

Deno.test("two markers racing on one table mark every eligible row exactly once", async () => {
  const fx = await createParentFixture({ rows: 3000, originals: "none" });
  try {
    const table = new ParentTable(fx.db, fx.source);
    const logger = new Logger("marker", { level: "error", sink: () => {} });
    const run = (nodeId: number) =>
      new Marker({
        table,
        names: new NameGenerator({ ...FORMAT, nodeId }),
        batchSize: 50,
        concurrency: 3,
        logger,
      }).runOnce();
    const [a, b] = await Promise.all([run(1), run(2)]);
    assertEquals(a.marked + b.marked, fx.eligibleIds.size);
    const rows = await fx.db.query<{ id: string; name: string | null; state: string }>(
      `SELECT doc_id::text AS id, archive_name AS name, state FROM ${fx.table}`,
    );
    const names = new Set<string>();
    for (const row of rows) {
      assertEquals(row.state === "queued", fx.eligibleIds.has(row.id), `row ${row.id}`);
      if (row.name !== null) names.add(row.name);
    }
    assertEquals(names.size, fx.eligibleIds.size);
    assert(a.marked > 0 && b.marked > 0, "both markers took part");
  } finally {
    await fx.close();
  }
});
