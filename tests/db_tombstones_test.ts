import assert from "node:assert/strict";
import { DesConflictError } from "../core/errors.ts";
import { createContainer, getContainer } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import {
  addTombstone,
  getTombstone,
  markErased,
  markPurged,
  TOMBSTONE_CHANNEL,
  tombstonedNames,
  tombstonesOf,
} from "../db/tombstones.ts";
import { TEST_ENGINES } from "./_helpers/pg.ts";

const CONTAINER = "00000000000000000000000000000abc";

/** A container of shard 10 in `state` (a visible one by default). */
async function containerIn(db: Db, state = "parent_updated"): Promise<void> {
  await createContainer(db, {
    containerId: CONTAINER,
    shard: 10,
    source: "src",
    bucket: "archive",
    key: "c/abc.des",
  });
  await db.query(
    `update des_containers set state = $2, size = 4096, file_count = 2, data_bytes = 1400,
       first_name = '0a-0af7w66jn0a01', last_name = '0a-0af7w66jn0a09', committed_at = now()
     where container_id = $1`,
    [CONTAINER, state],
  );
}

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: a tombstone is written once, counts dead bytes and is announced`, async () => {
    await using t = await engine.create({ migrate: true });
    await containerIn(t.db);
    const heard: string[] = [];
    const stop = await t.db.listen(TOMBSTONE_CHANNEL, (payload) => heard.push(payload));
    try {
      const entry = { name: "0a-0af7w66jn0a01", shard: 10, containerId: CONTAINER, bytes: 700 };
      assert.equal(
        await t.db.transaction((tx) => addTombstone(tx, { ...entry, origin: "api" })),
        true,
      );
      assert.equal(
        await t.db.transaction((tx) => addTombstone(tx, { ...entry, origin: "api" })),
        false,
      );
      await addTombstone(t.db, { name: "0b-0af7w66jn0a02", shard: 11, origin: "parent" });

      const row = await getContainer(t.db, CONTAINER);
      const dead = await t.db.query<{ f: number; b: number }>(
        "select dead_files as f, dead_bytes as b from des_containers where container_id = $1",
        [CONTAINER],
      );
      assert.ok(row);
      assert.deepEqual(dead[0], { f: 1, b: 700 });
      const stone = await getTombstone(t.db, entry.name);
      assert.equal(stone?.origin, "api");
      assert.equal(stone?.bytes, 700);
      assert.equal(stone?.erasedAt, null);
      assert.equal(await getTombstone(t.db, "0c-0af7w66jn0a03"), null);
      assert.deepEqual(await tombstonedNames(t.db, 10, 10), [entry.name]);
      assert.deepEqual((await tombstonedNames(t.db, 0, 100)).sort(), [
        entry.name,
        "0b-0af7w66jn0a02",
      ]);

      const deadline = Date.now() + 10_000;
      while (heard.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(heard.map((p) => JSON.parse(p)), [
        { shard: 10, name: entry.name },
        { shard: 11, name: "0b-0af7w66jn0a02" },
      ]);
    } finally {
      await stop();
    }
  });
}

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: erasure and purge are recorded once; purge needs an erasure`, async () => {
    await using t = await engine.create({ migrate: true });
    const a = "0a-0af7w66jn0a01";
    const b = "0b-0af7w66jn0a02";
    await addTombstone(t.db, { name: a, shard: 10, origin: "parent", actor: "docs" });
    await addTombstone(t.db, { name: b, shard: 11, origin: "api" });
    assert.equal(await markPurged(t.db, [a, b]), 0, "nothing is purged before its erasure");
    assert.equal(await markErased(t.db, a, "big-file-deleted"), true);
    assert.equal(await markErased(t.db, "0c-0af7w66jn0a03", "x"), false);
    const first = (await getTombstone(t.db, a))!.erasedAt;
    await markErased(t.db, a, "compaction");
    const again = (await getTombstone(t.db, a))!;
    assert.deepEqual([again.erasedAt, again.erasedBy], [first, "big-file-deleted"]);
    assert.equal(await markPurged(t.db, [a, b]), 1);
    const found = await tombstonesOf(t.db, [a, b, "0c-0af7w66jn0a03"]);
    assert.deepEqual([...found.keys()].sort(), [a, b]);
    assert.ok(found.get(a)!.purgedAt);
    assert.equal(found.get(b)!.purgedAt, null);
    assert.equal((await tombstonesOf(t.db, [])).size, 0);
  });
}

Deno.test("postgres: a tombstone is refused on a container compaction retired, and nothing is written", async () => {
  await using t = await TEST_ENGINES[0].create({ migrate: true });
  await containerIn(t.db, "retired");
  const name = "0a-0af7w66jn0a01";
  await assert.rejects(
    t.db.transaction((tx) =>
      addTombstone(tx, { name, shard: 10, origin: "api", containerId: CONTAINER, bytes: 700 })
    ),
    DesConflictError,
  );
  assert.equal(await getTombstone(t.db, name), null);
  const dead = await t.db.query<{ f: number }>(
    "select dead_files as f from des_containers where container_id = $1",
    [CONTAINER],
  );
  assert.equal(dead[0].f, 0);
});
