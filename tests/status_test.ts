import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { createTestDatabase, type TestDatabase } from "./_helpers/pg.ts";
import { createParentFixture, type ParentFixture } from "./_helpers/parent_fixture.ts";
import { attentionOf } from "../status/attention.ts";
import { collectStatus } from "../status/collect_status.ts";
import { registerRetriever } from "../db/retrievers.ts";
import type { StatusReport } from "../status/status_report.ts";

const DES = new URL("../cli/des.ts", import.meta.url).pathname;
const SHARD_BITS = 4;

/** Metadata DB + parent fixture with marked, packed and dead-lettered rows. */
async function world(): Promise<
  { meta: TestDatabase; parent: ParentFixture; close(): Promise<void> }
> {
  const meta = await createTestDatabase({ migrate: true });
  const parent = await createParentFixture({ rows: 60, originals: "none" });
  const t = parent.table;
  // ids 1-20 marked (shard = id % 4), 21-30 packed, 31-33 dead-lettered; the rest stay live.
  await parent.db.exec(`
    update ${t} set state = 'queued', archive_name = 'n-' || doc_id, archive_shard = doc_id % 4
     where doc_id between 1 and 20;
    update ${t} set state = 'archived', archive_name = 'n-' || doc_id, archive_shard = 0
     where doc_id between 21 and 30;
    update ${t} set state = 'broken', failure_note = 'original missing: ' || file_path
     where doc_id between 31 and 33;`);
  return {
    meta,
    parent,
    close: async () => {
      await parent.close();
      await meta.drop();
    },
  };
}

async function commitContainer(db: TestDatabase["db"], shard: number, id: string, files: number) {
  await db.query(
    `insert into des_containers (container_id, shard, source, bucket, key, size, file_count,
       first_name, last_name, state, committed_at)
     values ($1, $2, 'fixture-docs', 'b', $1, $3, $4, 'a', 'z', 'committed', now())`,
    [id, shard, files * 1000, files],
  );
}

Deno.test("status: attention rules", () => {
  const now = new Date();
  const base = { retrievers: [], leases: [], sources: [] };
  assertEquals(attentionOf(base), []);
  const source = {
    source: "s",
    eligible: 0,
    marked: 5,
    packed: 0,
    failed: 0,
    markedBefore: 5,
    markedBeforeAt: now,
  };
  // A steady backlog, an expired lease with nothing left and a live retriever are fine.
  assertEquals(
    attentionOf({
      retrievers: [{
        id: "r",
        url: "u",
        rangeStart: 0,
        rangeEnd: 1,
        heartbeatAgeSeconds: 1,
        alive: true,
      }],
      leases: [{ shard: 1, owner: "p", since: null, expiresAt: now, expired: true, workLeft: 0 }],
      sources: [source],
    }),
    [],
  );
  const kinds = attentionOf({
    retrievers: [{
      id: "r",
      url: "u",
      rangeStart: 0,
      rangeEnd: 1,
      heartbeatAgeSeconds: 99,
      alive: false,
    }],
    leases: [{ shard: 1, owner: "p", since: null, expiresAt: now, expired: true, workLeft: 3 }],
    sources: [{ ...source, failed: 2, marked: 6 }],
  }).map((a) => a.kind);
  assertEquals(kinds, ["dead-retriever", "expired-lease", "dead-letters", "growing-backlog"]);
});

Deno.test("status: the report matches the metadata DB and the parent table (PostgreSQL)", async () => {
  const w = await world();
  try {
    const db = w.meta.db;
    await commitContainer(db, 0, "aa01", 4);
    await commitContainer(db, 0, "aa02", 6);
    await commitContainer(db, 3, "aa03", 5);
    await db.query(
      `insert into des_containers (container_id, shard, source, bucket, key, state, error)
       values ('bb01', 2, 'fixture-docs', 'b', 'bb01', 'aborted', 'verify: checksum mismatch')`,
    );
    await registerRetriever(db, { id: "r-low", url: "http://a:1", rangeStart: 0, rangeEnd: 7 });
    await registerRetriever(db, { id: "r-high", url: "http://b:1", rangeStart: 8, rangeEnd: 15 });
    await db.query(
      "update des_retrievers set heartbeat_at = now() - interval '5 minutes' where id = 'r-high'",
    );
    // Shard 1: expired lease, 5 marked rows left; shard 2: live lease.
    await db.query(
      `insert into des_shards (shard, lease_owner, lease_expires_at) values
         (1, 'packer-a', now() - interval '10 minutes'), (2, 'packer-b', now() + interval '5 minutes')`,
    );
    await db.query(
      `insert into des_pack_jobs (shard, source, owner, started_at)
       values (2, 'fixture-docs', 'packer-b', now() - interval '1 minute')`,
    );
    // Two hours ago the backlog was 12.
    await db.query(
      "insert into des_backlog_samples (source, at, marked) values ('fixture-docs', now() - interval '2 hours', 12)",
    );

    const report = await collectStatus({
      db,
      sources: [{ config: w.parent.source, db: w.parent.db }],
      shardCount: 2 ** SHARD_BITS,
    });
    assertEquals(report.retrievers.map((r) => [r.id, r.alive]), [["r-low", true], [
      "r-high",
      false,
    ]]);
    assertEquals(report.shards, [
      { shard: 0, containers: 2, files: 10, bytes: 10_000 },
      { shard: 3, containers: 1, files: 5, bytes: 5000 },
    ]);
    const [s] = report.sources;
    assertEquals([s.marked, s.packed, s.failed, s.markedBefore], [20, 10, 3, 12]);
    assertEquals(s.eligible, 60 - 33);
    assertEquals(report.leases.map((l) => [l.shard, l.owner, l.expired, l.workLeft]), [
      [1, "packer-a", true, 5],
      [2, "packer-b", false, 5],
    ]);
    assert(report.leases[1].since instanceof Date);
    assertEquals(report.leases[0].since, null);
    assertEquals(report.deadLetters.map((d) => d.id), ["33", "32", "31"]);
    assertMatch(report.deadLetters[0].reason ?? "", /^original missing: /);
    assertEquals(report.recentErrors.map((e) => [e.kind, e.shard, e.error]), [
      ["container", 2, "verify: checksum mismatch"],
    ]);
    assertEquals(report.attention.map((a) => a.kind), [
      "dead-retriever",
      "expired-lease",
      "dead-letters",
      "growing-backlog",
    ]);
    // The read recorded a sample of today's backlog for the trend.
    const samples = await db.query<{ marked: number }>(
      "select marked from des_backlog_samples where source = 'fixture-docs' order by at",
    );
    assertEquals(samples.map((r) => Number(r.marked)), [12, 20]);
  } finally {
    await w.close();
  }
});

async function desStatus(w: Awaited<ReturnType<typeof world>>, args: string[]) {
  const out = await new Deno.Command("deno", {
    args: ["run", "-A", DES, "status", "--sources", w.parent.sourcesPath, ...args],
    env: {
      ...Object.fromEntries(w.parent.env),
      DES_DATABASE_URL: w.meta.url,
      DES_SHARD_BITS: String(SHARD_BITS),
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("des status: exit 0 when all is well, 1 with the reasons when not (PostgreSQL)", async () => {
  const w = await world();
  try {
    // Healthy: no dead letters, one live retriever.
    await w.parent.db.exec(`update ${w.parent.table} set state = 'live' where state = 'broken'`);
    await registerRetriever(w.meta.db, { id: "r", url: "http://a:1", rangeStart: 0, rangeEnd: 15 });
    const ok = await desStatus(w, []);
    assertEquals(ok.code, 0, ok.stdout + ok.stderr);
    assertMatch(ok.stdout, /Needs attention\n {2}nothing/);
    assertMatch(ok.stdout, /fixture-docs: 20 marked \(no earlier sample yet\)/);
    assertMatch(ok.stdout, /up {3}r shards 0-15/);

    // Dead-lettered rows: exit 1, the JSON names them.
    await w.parent.db.exec(
      `update ${w.parent.table} set state = 'broken', failure_note = 'too big' where doc_id = 40`,
    );
    const bad = await desStatus(w, ["--json"]);
    assertEquals(bad.code, 1, bad.stdout + bad.stderr);
    const report = JSON.parse(bad.stdout) as StatusReport;
    assertEquals(report.attention.map((a) => a.kind), ["dead-letters"]);
    assertEquals(report.deadLetters.map((d) => [d.id, d.reason]), [["40", "too big"]]);
    assertEquals(report.sources[0].failed, 1);
  } finally {
    await w.close();
  }
});
