/**
 * The fence of a shard lease: a lease that expired while nobody else claimed
 * the shard is still ours (extended by the next fenced write); a lease
 * another worker claimed is lost, and nothing is written.
 */

import { Logger } from "../core/log.ts";
import { getContainer } from "../db/containers.ts";
import { createContainerFenced } from "../db/fenced_containers.ts";
import { claimShards, ensureShards } from "../db/shards.ts";
import { LeaseLostError, ShardLease } from "../pack/shard_lease.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { createTestDatabase } from "./_helpers/pg.ts";

const log = new Logger("test", { level: "error" });
const NEW_CONTAINER = { containerId: "00aa", shard: 1, source: "s", bucket: "b", key: "k/00aa" };

Deno.test("shard lease: an expired lease nobody claimed is extended by the fence", async () => {
  await using t = await createTestDatabase({ migrate: true });
  await ensureShards(t.db, 2);
  const claim = await ShardLease.tryClaim(t.db, { shard: 1, owner: "a", leaseMs: 60_000, log });
  assert(claim);
  try {
    await t.db.query(
      "update des_shards set lease_expires_at = now() - interval '5 seconds' where shard = 1",
    );
    const written = await claim.lease.write((db, fence) =>
      createContainerFenced(db, fence, NEW_CONTAINER)
    );
    assertEquals(written, { held: true, done: true });
    const [{ live }] = await t.db.query<{ live: boolean }>(
      "select lease_expires_at > now() + interval '30 seconds' as live from des_shards where shard = 1",
    );
    assert(live, "the fence did not extend the expired lease");
  } finally {
    await claim.lease.release();
  }
});

Deno.test("shard lease: a lease another worker claimed fails the fence and writes nothing", async () => {
  await using t = await createTestDatabase({ migrate: true });
  await ensureShards(t.db, 2);
  const claim = await ShardLease.tryClaim(t.db, { shard: 1, owner: "a", leaseMs: 60_000, log });
  assert(claim);
  try {
    await t.db.query(
      "update des_shards set lease_expires_at = now() - interval '5 seconds' where shard = 1",
    );
    const [taken] = await claimShards(t.db, {
      owner: "b",
      rangeStart: 1,
      rangeEnd: 1,
      leaseMs: 60_000,
    });
    assertEquals(taken.takenOverFrom, "a");
    let error: unknown;
    try {
      await claim.lease.write((db, fence) => createContainerFenced(db, fence, NEW_CONTAINER));
    } catch (e) {
      error = e;
    }
    assert(error instanceof LeaseLostError, String(error));
    assert(claim.lease.lost);
    assertEquals(await getContainer(t.db, NEW_CONTAINER.containerId), null);
  } finally {
    await claim.lease.release();
  }
});
