/**
 * Fenced single-statement container writes, on both engines: a write under
 * a held lease takes place and extends an expired lease; under a lease
 * another worker holds, nothing is written; a compare-and-set that finds
 * the container elsewhere writes nothing; a commit adds the container to
 * its shard's progress exactly once.
 */

import assert from "node:assert/strict";
import { DesConflictError } from "../core/errors.ts";
import { getContainer } from "../db/containers.ts";
import { createContainerFenced, setContainerStateFenced } from "../db/fenced_containers.ts";
import { claimShards, ensureShards, listShards } from "../db/shards.ts";
import { TEST_ENGINES } from "./_helpers/pg.ts";

const MINUTE = 60_000;
const ID = "00aa";
const NEW = { containerId: ID, shard: 1, source: "s", bucket: "b", key: "k/00aa.des" };

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: fenced writes take place under a held lease, and extend it`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 2);
    await claimShards(t.db, { owner: "a", rangeStart: 1, rangeEnd: 1, leaseMs: MINUTE });
    await t.db.query(
      "update des_shards set lease_expires_at = now() - interval '5 seconds' where shard = 1",
    );
    const fence = { shard: 1, owner: "a", leaseMs: MINUTE };
    assert.deepEqual(await createContainerFenced(t.db, fence, NEW), { held: true, done: true });
    const [{ live }] = await t.db.query<{ live: boolean }>(
      "select lease_expires_at > now() + interval '30 seconds' as live from des_shards where shard = 1",
    );
    assert.ok(live, "the fenced write did not extend the expired lease");
    await assert.rejects(() => createContainerFenced(t.db, fence, NEW), DesConflictError);

    const move = (from: "building" | "uploaded", to: "uploaded" | "verified") =>
      setContainerStateFenced(t.db, fence, { containerId: ID, from, to, facts: { size: 99 } });
    assert.deepEqual(await move("building", "uploaded"), { held: true, done: true });
    assert.deepEqual(await move("building", "uploaded"), { held: true, done: false });
    const row = await getContainer(t.db, ID);
    assert.equal(row?.state, "uploaded");
    assert.equal(row?.size, 99);
  });

  Deno.test(`${engine.kind}: a commit counts the container in its shard's progress once`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 2);
    await claimShards(t.db, { owner: "a", rangeStart: 1, rangeEnd: 1, leaseMs: MINUTE });
    const fence = { shard: 1, owner: "a", leaseMs: MINUTE };
    await createContainerFenced(t.db, fence, NEW);
    const facts = { size: 10, fileCount: 3, firstName: "a", lastName: "c" };
    await setContainerStateFenced(t.db, fence, {
      containerId: ID,
      from: "building",
      to: "uploaded",
      facts,
    });
    await setContainerStateFenced(t.db, fence, {
      containerId: ID,
      from: "uploaded",
      to: "verified",
    });
    const commit = () =>
      setContainerStateFenced(t.db, fence, {
        containerId: ID,
        from: "verified",
        to: "committed",
        progress: { files: 3, bytes: 1500 },
      });
    assert.deepEqual(await commit(), { held: true, done: true });
    assert.deepEqual(await commit(), { held: true, done: false });
    const [shard] = await listShards(t.db, { rangeStart: 1, rangeEnd: 1 });
    assert.equal(shard.packedContainers, 1);
    assert.equal(shard.packedFiles, 3);
    assert.equal(shard.packedBytes, 1500);
    assert.ok(shard.lastPackedAt instanceof Date);
    const row = await getContainer(t.db, ID);
    assert.equal(row?.state, "committed");
    assert.ok(row?.committedAt instanceof Date);
  });

  Deno.test(`${engine.kind}: under a lease another worker took, nothing is written`, async () => {
    await using t = await engine.create({ migrate: true });
    await ensureShards(t.db, 2);
    await claimShards(t.db, { owner: "a", rangeStart: 1, rangeEnd: 1, leaseMs: MINUTE });
    const fence = { shard: 1, owner: "a", leaseMs: MINUTE };
    await createContainerFenced(t.db, fence, NEW);
    await t.db.query(
      "update des_shards set lease_expires_at = now() - interval '5 seconds' where shard = 1",
    );
    await claimShards(t.db, { owner: "b", rangeStart: 1, rangeEnd: 1, leaseMs: MINUTE });
    assert.deepEqual(
      await createContainerFenced(t.db, fence, { ...NEW, containerId: "00bb", key: "k/b" }),
      { held: false, done: false },
    );
    assert.equal(await getContainer(t.db, "00bb"), null);
    assert.deepEqual(
      await setContainerStateFenced(t.db, fence, {
        containerId: ID,
        from: "building",
        to: "aborted",
      }),
      { held: false, done: false },
    );
    assert.equal((await getContainer(t.db, ID))?.state, "building");
    const [shard] = await listShards(t.db, { rangeStart: 1, rangeEnd: 1 });
    assert.equal(shard.leaseOwner, "b");
  });
}
