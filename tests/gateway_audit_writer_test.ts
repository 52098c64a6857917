import assert from "node:assert/strict";
import { cleanAuditText, MAX_AUDIT_TEXT } from "../gateway/audit.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";
import { TEST_ENGINES } from "./_helpers/pg.ts";

Deno.test("cleanAuditText keeps printable ASCII as it is and encodes the rest", () => {
  const clean = "GET /files/0a-0000000000001 ~!";
  assert.equal(cleanAuditText(clean), clean);
  assert.equal(cleanAuditText("a\u0000b\u00e9"), "a%00b%C3%A9");
  assert.equal(cleanAuditText("x".repeat(MAX_AUDIT_TEXT + 5)), "x".repeat(MAX_AUDIT_TEXT));
  assert.equal(cleanAuditText("\u0001".repeat(100)).length, MAX_AUDIT_TEXT);
});

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: audit rows of several batches are all written by close()`, async () => {
    await using t = await engine.create({ migrate: true });
    const metrics = new GatewayMetrics();
    const audit = new AuditTrail(t.db, { flushMs: 60_000, batchSize: 1000, metrics });
    const at = new Date();
    for (let i = 0; i < 2500; i++) {
      audit.record({
        at,
        method: i % 2 ? "GET" : "HEAD",
        route: "getFile",
        name: `0a-${i}`,
        status: i % 7 ? 200 : 404,
        bytes: i,
        client: i % 3 ? "k1" : null,
        traceId: i % 5 ? `t${i}` : null,
      });
    }
    await audit.close();
    assert.equal(audit.pending, 0);
    const [row] = await t.db.query(
      `select count(*)::int as n, sum(bytes)::bigint as bytes, count(*) filter (where method = 'HEAD')::int as heads,
         count(client)::int as clients, count(trace_id)::int as traced,
         count(*) filter (where status = 404)::int as missing from des_read_audit`,
    );
    assert.deepEqual(row, {
      n: 2500,
      bytes: 2500 * 2499 / 2,
      heads: 1250,
      clients: 2500 - 834,
      traced: 2000,
      missing: 358,
    });
    assert.equal(
      metrics.registry.render().match(/des_gateway_audit_rows_total (\d+)/)?.[1],
      "2500",
    );
  });
}
