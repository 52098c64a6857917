import assert from "node:assert/strict";
import { Logger } from "../core/log.ts";
import { auditPartitionName, auditPartitions, utcDay } from "../db/audit_partitions.ts";
import { migrate } from "../db/migrate.ts";
import { MIGRATIONS } from "../db/migration_files.ts";
import { maintainAuditPartitions } from "../db/audit_partitions.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { AuditMaintainer } from "../gateway/audit_maintainer.ts";
import { createTestDatabase, TEST_ENGINES } from "./_helpers/pg.ts";

const DAY = 86_400_000;

const CLI = new URL("../cli/des.ts", import.meta.url).pathname;

Deno.test("audit maintainer: a failing round is logged once and the next working one recovers", async () => {
  await using t = await createTestDatabase();
  await migrate(t.db, MIGRATIONS.slice(0, 4));
  const lines: Record<string, unknown>[] = [];
  const log = new Logger("gateway", { sink: (l) => lines.push(JSON.parse(l)) });
  const maintainer = new AuditMaintainer(t.db, {
    retentionDays: 30,
    aheadDays: 2,
    intervalMs: 3_600_000,
    log,
  });
  try {
    assert.equal(await maintainer.run(), undefined);
    assert.equal(await maintainer.run(), undefined);
    const warnings = lines.filter((l) => l.level === "warn");
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(String(warnings[0].msg), /maintenance failed/);
    await migrate(t.db);
    const result = await maintainer.run();
    const today = utcDay(new Date());
    assert.deepEqual(
      result?.created,
      [0, 1, 2].map((d) => auditPartitionName(new Date(today.getTime() + d * 86_400_000))),
    );
    assert.ok(lines.some((l) => l.msg === "read audit maintenance works again"));
  } finally {
    await maintainer.close();
  }
});

Deno.test("des audit-maintain: one round from the command line; bad values are refused", async () => {
  await using t = await createTestDatabase({ migrate: true });
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const out = await new Deno.Command("deno", {
      args: ["run", "-A", CLI, "audit-maintain", "--database-url", t.url, ...args],
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  };
  const ok = await run(["--json", "--ahead-days", "1"], { DES_AUDIT_RETENTION_DAYS: "5" });
  assert.equal(ok.code, 0, ok.stderr);
  const result = JSON.parse(ok.stdout);
  assert.equal(result.retentionDays, 5);
  assert.equal(result.ran, true);
  assert.equal(result.created.length, 2);
  assert.equal((await auditPartitions(t.db)).length, 3);
  const badFlag = await run(["--ahead-days", "0"]);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /--ahead-days "0": expected an integer from 1 to 366/);
  const badEnv = await run([], { DES_AUDIT_RETENTION_DAYS: "a while" });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /DES_AUDIT_RETENTION_DAYS="a while": expected an integer/);
});

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: maintenance rounds while the audit is written lose no row`, async () => {
    await using t = await engine.create({ migrate: true });
    const today = utcDay(new Date()).getTime();
    // Partitions for the last 20 days, so that the rounds below have some to drop.
    await maintainAuditPartitions(t.db, {
      retentionDays: 0,
      aheadDays: 22,
      now: new Date(today - 20 * DAY),
    });
    const audit = new AuditTrail(t.db, { flushMs: 10, batchSize: 100 });
    let written = 0;
    const writing = (async () => {
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 50; i++) {
          audit.record({
            at: new Date(),
            method: "GET",
            route: "getFile",
            name: `0a-${written}`,
            status: 200,
            bytes: written++,
            client: "w",
            traceId: null,
          });
        }
        await new Promise((ok) => setTimeout(ok, 5));
      }
    })();
    const dropped: string[] = [];
    for (let retention = 15; retention >= 1; retention -= 2) {
      const r = await maintainAuditPartitions(t.db, { retentionDays: retention, aheadDays: 3 });
      dropped.push(...r.dropped);
    }
    await writing;
    await audit.close();
    assert.equal(audit.pending, 0);
    assert.ok(audit.healthy, audit.health());
    assert.equal(dropped.length, 19, dropped.join(", "));
    const [{ n, distinct }] = await t.db.query<{ n: number; distinct: number }>(
      "select count(*)::int as n, count(distinct name)::int as distinct from des_read_audit",
    );
    assert.equal(distinct, written);
    assert.equal(n, written);
  });
}
