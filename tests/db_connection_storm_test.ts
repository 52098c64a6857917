/**
 * The PostgreSQL layer under terminated backends: no crash and no unhandled
 * rejection (either fails this file), transactions that did not commit run
 * again, reads are repeated, and LISTEN comes back.
 */

import assert from "node:assert/strict";
import { DesUnavailableError } from "../core/errors.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { startConnectionStorm, terminateWhileRunning } from "./_helpers/pg_storm.ts";

/** `promise`, or a failure after `ms` (a bound far above the normal cost, against hangs). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("postgres: transactions during a connection storm never crash the process and count exactly", async () => {
  await using t = await createTestDatabase({ max: 4 });
  await t.db.exec("create table counter (worker int primary key, n int not null)");
  await t.db.query("insert into counter select g, 0 from generate_series(0, 3) g");
  const storm = startConnectionStorm(t.url, { rounds: 20, intervalMs: 150 });
  let stormOver = false;
  storm.done.finally(() => stormOver = true);
  const tallies = await Promise.all([0, 1, 2, 3].map(async (worker) => {
    const tally = { committed: 0, unknown: 0, failed: 0 };
    while (!stormOver) {
      try {
        await t.db.transaction(async (tx) => {
          await tx.query("update counter set n = n + 1 where worker = $1", [worker]);
          await new Promise((r) => setTimeout(r, Math.random() * 10));
          await tx.query("select n from counter where worker = $1", [worker]);
        });
        tally.committed++;
      } catch (err) {
        assert.ok(err instanceof DesUnavailableError, `unexpected error: ${err}`);
        if (err.context.commitUnknown) tally.unknown++;
        else tally.failed++;
      }
    }
    return tally;
  }));
  const terminated = await storm.done;
  assert.ok(terminated >= 10, `only ${terminated} backends were terminated in 20 rounds`);
  const rows = await t.db.query<{ worker: number; n: number }>(
    "select worker, n from counter order by worker",
  );
  for (const [worker, tally] of tallies.entries()) {
    assert.ok(tally.committed > 0, `worker ${worker} never committed: ${JSON.stringify(tally)}`);
    const n = rows[worker].n;
    assert.ok(
      n >= tally.committed && n <= tally.committed + tally.unknown,
      `worker ${worker}: counter ${n}, ${JSON.stringify(tally)}`,
    );
  }
  // The pool works normally afterwards.
  await t.db.transaction((tx) => tx.query("update counter set n = 0"));
});

Deno.test("postgres: a read whose connection is terminated is repeated on a fresh one", async () => {
  await using t = await createTestDatabase({ max: 2 });
  const read = t.db.query<{ v: number }>("select 7 as v from pg_sleep(0.5)");
  assert.ok(await terminateWhileRunning(t.url, "pg_sleep(0.5)") >= 1);
  assert.deepEqual(await read, [{ v: 7 }]);
});

Deno.test("postgres: a write whose connection is terminated fails with a typed error", async () => {
  await using t = await createTestDatabase({ max: 2 });
  await t.db.exec("create table w (n int)");
  const write = t.db.query("insert into w select 1 from pg_sleep(0.5)").then(() => null, (e) => e);
  assert.ok(await terminateWhileRunning(t.url, "pg_sleep(0.5)") >= 1);
  assert.ok(await write instanceof DesUnavailableError);
  assert.deepEqual(await t.db.query("select count(*)::int as n from w"), [{ n: 0 }]);
});

Deno.test("postgres: LISTEN is renewed after its connection is terminated, and says so", async () => {
  await using t = await createTestDatabase({ max: 2 });
  const payloads: string[] = [];
  let listens = 0;
  let relistened!: () => void;
  const again = new Promise<void>((r) => relistened = r);
  const unlisten = await t.db.listen("des_storm", (p) => payloads.push(p), {
    onListen: () => {
      if (++listens === 2) relistened();
    },
  });
  assert.equal(listens, 1);
  assert.ok(await startConnectionStorm(t.url, { rounds: 1, intervalMs: 0 }).done >= 1);
  await within(again, 30_000, "re-subscription");
  let got!: () => void;
  const arrived = new Promise<void>((r) => got = r);
  const poll = setInterval(() => payloads.includes("after") && got(), 20);
  await t.db.notify("des_storm", "after");
  await within(arrived, 30_000, "notification after the reconnect");
  clearInterval(poll);
  await unlisten();
});
