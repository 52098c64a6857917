/**
 * The read audit writer through a connection storm: the backends of the
 * test's own database are terminated again and again while rows keep
 * coming. The writer must not crash the process (no unhandled rejection),
 * must keep every row (at least once: a commit lost in flight is retried),
 * and must be healthy again once the storm ends.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { startConnectionStorm } from "./_helpers/pg_storm.ts";
import { Logger } from "../core/log.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";

Deno.test({
  name: "audit writer: a connection storm loses no row and leaves the writer healthy",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: PromiseRejectionEvent) => {
      e.preventDefault();
      unhandled.push(e.reason);
    };
    globalThis.addEventListener("unhandledrejection", onUnhandled);
    const pg = await createTestDatabase({ migrate: true, max: 4 });
    const metrics = new GatewayMetrics();
    const audit = new AuditTrail(pg.db, {
      flushMs: 20,
      batchSize: 50,
      metrics,
      log: new Logger("gateway", { sink: () => {} }),
    });
    try {
      const storm = startConnectionStorm(pg.url, { rounds: 20, intervalMs: 400 });
      let recorded = 0;
      let stormOver = false;
      storm.done.finally(() => (stormOver = true));
      while (!stormOver) {
        for (let i = 0; i < 10; i++) {
          audit.record({
            at: new Date(),
            method: "GET",
            route: "getFile",
            name: `storm-${recorded}`,
            status: 200,
            bytes: recorded,
            client: "storm",
            traceId: `t${recorded}`,
          });
          recorded++;
        }
        await new Promise((ok) => setTimeout(ok, 25));
      }
      const terminated = await storm.done;
      assert(terminated >= 10, `only ${terminated} backends terminated`);
      const deadline = Date.now() + 30_000;
      while ((audit.pending > 0 || !audit.healthy) && Date.now() < deadline) {
        await new Promise((ok) => setTimeout(ok, 50));
      }
      assertEquals(audit.pending, 0, "every row was written after the storm");
      assert(audit.healthy, audit.health());
      const [{ rows, distinct }] = await pg.db.query<{ rows: number; distinct: number }>(
        `select count(*)::int as rows, count(distinct trace_id)::int as distinct
         from des_read_audit where client = 'storm'`,
      );
      assertEquals(distinct, recorded, "no row is lost");
      assert(rows >= recorded && rows <= recorded + 500, `${rows} rows for ${recorded} reads`);
      assertEquals(unhandled, []);
      console.log(
        `storm: ${terminated} backends terminated, ${recorded} rows recorded, ${rows} written`,
      );
    } finally {
      globalThis.removeEventListener("unhandledrejection", onUnhandled);
      await audit.close();
      await pg.drop();
    }
  },
});
