import assert from "node:assert/strict";
import { DesConfigError, DesInputError } from "../core/errors.ts";
import {
  claimShards,
  ensureShards,
  listShards,
  releaseShard,
  renewLease,
  renewLeases,
} from "../db/shards.ts";
import { createTestDatabase, TEST_ENGINES } from "./_helpers/pg.ts";

const MINUTE = 60_000;

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: ensureShards creates 2^bits rows once and pins the shard bits`, async () => {
    await using t = await engine.create({ migrate: true });
    assert.deepEqual(await ensureShards(t.db, 6), { created: 64 });
    assert.deepEqual(await ensureShards(t.db, 6), { created: 0 });
    const shards = await listShards(t.db);
    assert.deepEqual(shards.map((s) => s.shard), Array.from({ length: 64 }, (_, i) => i));
    assert.deepEqual(shards[0], {
      shard: 0,
      leaseOwner: null,
      leaseExpiresAt: null,
      lastPackedAt: null,
      packedContainers: 0,
      packedFiles: 0,
      packedBytes: 0,
    });
    await assert.rejects(ensureShards(t.db, 7), (err: unknown) => {
      assert.ok(err instanceof DesConfigError);
      assert.match(err.message, /created with DES_SHARD_BITS=6/);
      return true;
    });
    await assert.rejects(ensureShards(t.db, 0), DesConfigError);
  });

  Deno.test(`${engine.kind}: 3 concurrent claimers over 64 shards get disjoint shards`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 6);
    for (let round = 0; round < 5; round++) {
      await t.db.query("update des_shards set lease_owner = null, lease_expires_at = null");
      const claims = await Promise.all(
        ["a", "b", "c"].map((owner) =>
          claimShards(t.db, { owner, rangeStart: 0, rangeEnd: 63, leaseMs: MINUTE, limit: 25 })
        ),
      );
      const all = claims.flat().map((l) => l.shard);
      assert.equal(new Set(all).size, all.length, `round ${round}: a shard was claimed twice`);
      assert.equal(all.length, 64, `round ${round}: ${claims.map((c) => c.length)}`);
      for (const c of claims) assert.ok(c.length <= 25);
      const rows = await listShards(t.db);
      claims.forEach((leases, i) => {
        for (const lease of leases) {
          assert.equal(rows[lease.shard].leaseOwner, ["a", "b", "c"][i]);
          assert.equal(lease.takenOverFrom, null);
        }
      });
      const late = await claimShards(t.db, {
        owner: "d",
        rangeStart: 0,
        rangeEnd: 63,
        leaseMs: MINUTE,
      });
      assert.deepEqual(late, []);
    }
  });

  Deno.test(`${engine.kind}: claims stay inside the requested range`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 6);
    const leases = await claimShards(t.db, {
      owner: "p",
      rangeStart: 10,
      rangeEnd: 19,
      leaseMs: MINUTE,
    });
    assert.deepEqual(leases.map((l) => l.shard), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  Deno.test(`${engine.kind}: an expired lease is taken over, a live one is not`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 2);
    const a = await claimShards(t.db, { owner: "A", rangeStart: 0, rangeEnd: 1, leaseMs: MINUTE });
    assert.deepEqual(a.map((l) => l.shard), [0, 1]);
    assert.ok(a[0].expiresAt instanceof Date);
    // Shard 0's lease runs out (as if A crashed a while ago); shard 1's is live.
    await t.db.query(
      "update des_shards set lease_expires_at = now() - interval '1 second' where shard = 0",
    );
    const b = await claimShards(t.db, { owner: "B", rangeStart: 0, rangeEnd: 1, leaseMs: MINUTE });
    assert.deepEqual(b.map((l) => [l.shard, l.takenOverFrom]), [[0, "A"]]);
    // A lost shard 0: it can neither renew nor release it; it still holds shard 1.
    assert.equal(await renewLease(t.db, { owner: "A", shard: 0, leaseMs: MINUTE }), false);
    assert.deepEqual(await renewLeases(t.db, { owner: "A", shards: [0, 1], leaseMs: MINUTE }), [1]);
    assert.equal(await releaseShard(t.db, { owner: "A", shard: 0 }), false);
    const rows = await listShards(t.db);
    assert.deepEqual(rows.map((r) => r.leaseOwner), ["B", "A", null, null]);
    // Releasing frees the shard for anyone.
    assert.equal(await releaseShard(t.db, { owner: "B", shard: 0 }), true);
    const c = await claimShards(t.db, { owner: "C", rangeStart: 0, rangeEnd: 1, leaseMs: MINUTE });
    assert.deepEqual(c.map((l) => [l.shard, l.takenOverFrom]), [[0, null]]);
  });

  Deno.test(`${engine.kind}: renewing moves the expiry forward; re-claiming by the holder renews`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 1);
    await claimShards(t.db, { owner: "A", rangeStart: 0, rangeEnd: 0, leaseMs: 1000 });
    const [before] = await listShards(t.db);
    assert.equal(await renewLease(t.db, { owner: "A", shard: 0, leaseMs: 10 * MINUTE }), true);
    const [after] = await listShards(t.db);
    assert.ok(after.leaseExpiresAt! > before.leaseExpiresAt!);
    const again = await claimShards(t.db, {
      owner: "A",
      rangeStart: 0,
      rangeEnd: 0,
      leaseMs: 1000,
    });
    assert.deepEqual(again.map((l) => [l.shard, l.takenOverFrom]), [[0, null]]);
  });

  Deno.test(`${engine.kind}: least recently packed shards are claimed first`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 2);
    // Shard 0 packed two containers (what the fenced commit of each records).
    await t.db.query(
      `update des_shards set last_packed_at = now(), packed_containers = 2, packed_files = 15,
         packed_bytes = 1500 where shard = 0`,
    );
    const [first] = await claimShards(t.db, {
      owner: "A",
      rangeStart: 0,
      rangeEnd: 3,
      leaseMs: MINUTE,
      limit: 1,
    });
    assert.equal(first.shard, 1);
    const [row0] = await listShards(t.db, { rangeStart: 0, rangeEnd: 0 });
    assert.equal(row0.packedContainers, 2);
    assert.equal(row0.packedFiles, 15);
    assert.equal(row0.packedBytes, 1500);
    assert.ok(row0.lastPackedAt instanceof Date);
  });
}

Deno.test("claim options are validated", async () => {
  const db = {
    query: () => Promise.reject(new Error("not reached")),
    exec: () => Promise.resolve(),
  };
  const base = { owner: "A", rangeStart: 0, rangeEnd: 3, leaseMs: MINUTE };
  for (
    const bad of [
      { owner: "" },
      { rangeStart: -1 },
      { rangeEnd: 70000 },
      { rangeStart: 4, rangeEnd: 3 },
      { leaseMs: 0 },
      { leaseMs: 1.5 },
      { limit: 0 },
    ]
  ) {
    await assert.rejects(claimShards(db, { ...base, ...bad }), DesInputError, JSON.stringify(bad));
  }
});

Deno.test("postgres: a claimer skips rows locked by an open claim instead of waiting", async () => {
  await using t = await createTestDatabase({ migrate: true });
  await ensureShards(t.db, 6);
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let claimedA!: (shards: number[]) => void;
  const aShards = new Promise<number[]>((r) => (claimedA = r));
  const holdingA = t.db.transaction(async (tx) => {
    const leases = await claimShards(tx, {
      owner: "A",
      rangeStart: 0,
      rangeEnd: 63,
      leaseMs: MINUTE,
      limit: 25,
    });
    claimedA(leases.map((l) => l.shard));
    await finished; // keep A's row locks while B and C claim
  });
  const a = await aShards;
  // With lock_timeout, waiting on A's locks would fail the claim instead of hanging.
  const claimWithoutWaiting = (owner: string) =>
    t.db.transaction(async (tx) => {
      await tx.query("set local lock_timeout = '5s'");
      return await claimShards(tx, { owner, rangeStart: 0, rangeEnd: 63, leaseMs: MINUTE });
    });
  let b, c;
  try {
    [b, c] = await Promise.all([claimWithoutWaiting("B"), claimWithoutWaiting("C")]);
  } finally {
    finish();
    await holdingA;
  }
  const all = [...a, ...b.map((l) => l.shard), ...c.map((l) => l.shard)];
  assert.equal(a.length, 25);
  assert.equal(all.length, 64);
  assert.equal(new Set(all).size, 64);
});
