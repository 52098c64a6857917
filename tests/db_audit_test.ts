import assert from "node:assert/strict";
import { insertReadAudit, type ReadAuditEntry } from "../db/read_audit.ts";
import { sqlStateOf } from "../db/sql_errors.ts";
import { TEST_ENGINES } from "./_helpers/pg.ts";

const ROWS = 100_000;
const START = Date.UTC(2026, 0, 1);

function entries(): ReadAuditEntry[] {
  return Array.from({ length: ROWS }, (_, i) => ({
    at: new Date(START + i * 1000),
    name: `0a-${i.toString(32).padStart(13, "0")}`,
    status: i % 10 === 0 ? 404 : 200,
    bytes: i * 3,
    client: i % 2 === 0 ? "client-a" : null,
    traceId: i % 3 === 0 ? `trace-${i}` : undefined,
  }));
}

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: 100k read audit rows insert in batches and round-trip`, async () => {
    await using t = await engine.create({ migrate: true });
    const rows = entries();
    const started = performance.now();
    assert.equal(await insertReadAudit(t.db, rows), ROWS);
    console.log(
      `${engine.kind}: inserted ${ROWS} audit rows in ${
        Math.round(performance.now() - started)
      } ms`,
    );
    const [stats] = await t.db.query<{ n: number; bytes: string; missing: number; traced: number }>(
      `select count(*) as n, sum(bytes) as bytes, count(*) filter (where status = 404) as missing,
         count(trace_id) as traced from des_read_audit`,
    );
    assert.deepEqual(stats, {
      n: ROWS,
      bytes: String(3 * (ROWS * (ROWS - 1)) / 2),
      missing: ROWS / 10,
      traced: Math.ceil(ROWS / 3),
    });
    const [one] = await t.db.query(
      'select at, name, status, bytes, client, trace_id as "traceId" from des_read_audit where name = $1',
      [rows[12345].name],
    );
    assert.deepEqual(one, { ...rows[12345], traceId: rows[12345].traceId ?? null });
    // A time range (the BRIN index on `at`) finds exactly the rows inside it.
    const [range] = await t.db.query<{ n: number; first: string; last: string }>(
      `select count(*)::int as n, min(name) as first, max(name) as last from des_read_audit
       where at >= $1 and at < $2`,
      [new Date(START + 40_000 * 1000), new Date(START + 50_000 * 1000)],
    );
    assert.deepEqual(range, { n: 10_000, first: rows[40_000].name, last: rows[49_999].name });
    assert.equal(await insertReadAudit(t.db, []), 0);
  });
}

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: audit text round-trips exactly; a refused value fails the whole batch`, async () => {
    await using t = await engine.create({ migrate: true });
    const odd = {
      at: new Date(START),
      name: "a\tb\\c\nd\re \\N",
      status: 200,
      bytes: 7,
      client: "\\N",
      traceId: null,
      method: "GET",
      route: "get\\File",
    };
    assert.equal(await insertReadAudit(t.db, [odd]), 1);
    const rows = await t.db.query(
      `select at, name, status, bytes, client, trace_id as "traceId", method, route
       from des_read_audit`,
    );
    assert.deepEqual(rows, [odd]);
    const refused = { ...odd, name: "refused", status: 70_000 };
    await assert.rejects(
      insertReadAudit(t.db, [{ ...odd, name: "kept-out" }, refused]),
      (error: unknown) => sqlStateOf(error) === "22003",
    );
    const [{ n }] = await t.db.query<{ n: number }>(
      "select count(*)::int as n from des_read_audit",
    );
    assert.equal(n, 1);
  });
}
