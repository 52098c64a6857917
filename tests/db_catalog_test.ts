import assert from "node:assert/strict";
import { DesConflictError, DesInputError } from "../core/errors.ts";
import type { Db } from "../db/db.ts";
import { onContainerCommitted } from "../db/container_events.ts";
import {
  committedContainersForShards,
  CONTAINER_COMMITTED_CHANNEL,
  type ContainerCommitted,
  createContainer,
  getContainer,
  listContainers,
  setContainerState,
} from "../db/containers.ts";
import { canTransition, CONTAINER_STATES, type ContainerState } from "../db/container_states.ts";
import { checkpointPackJob, finishPackJob, lastPackJob, startPackJob } from "../db/pack_jobs.ts";
import {
  heartbeatRetriever,
  listRetrievers,
  registerRetriever,
  unregisterRetriever,
} from "../db/retrievers.ts";
import { TEST_ENGINES } from "./_helpers/pg.ts";

const FACTS = {
  size: 4096,
  fileCount: 3,
  dataBytes: 3000,
  firstName: "0a-0af7w66jn0a01",
  lastName: "0a-0af7w66jn0a03",
  indexCrc32c: 4294967295,
  footerCrc32c: 12345,
  etag: "abc",
};

let counter = 0;
function newContainer(shard: number) {
  const id = (++counter).toString(16).padStart(32, "0");
  return { containerId: id, shard, source: "src", bucket: "archive", key: `c/${id}.des` };
}

/** Walk a container from building to committed. */
async function commit(db: Db, containerId: string, facts: Partial<typeof FACTS> = {}) {
  assert.ok(await setContainerState(db, containerId, "building", "uploaded", { size: 4096 }));
  assert.ok(await setContainerState(db, containerId, "uploaded", "verified"));
  assert.ok(
    await setContainerState(db, containerId, "verified", "committed", { ...FACTS, ...facts }),
  );
}

Deno.test("the state machine allows only the documented transitions", () => {
  const allowed: [ContainerState, ContainerState][] = [
    ["building", "uploaded"],
    ["uploaded", "verified"],
    ["verified", "committed"],
    ["committed", "parent_updated"],
    ["parent_updated", "sources_released"],
    ["building", "aborted"],
    ["uploaded", "aborted"],
    ["verified", "aborted"],
    ["parent_updated", "retired"],
    ["sources_released", "retired"],
    ["retired", "deleted"],
  ];
  for (const from of CONTAINER_STATES) {
    for (const to of CONTAINER_STATES) {
      const expected = allowed.some(([f, t]) => f === from && t === to);
      assert.equal(canTransition(from, to), expected, `${from} -> ${to}`);
    }
  }
});

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: containers are created once and move by compare-and-set`, async () => {
    await using t = await engine.create({ migrate: true });
    const c = newContainer(10);
    const row = await createContainer(t.db, { ...c, owner: "packer-1" });
    assert.equal(row.state, "building");
    assert.equal(row.owner, "packer-1");
    assert.ok(row.createdAt instanceof Date);
    await assert.rejects(createContainer(t.db, c), DesConflictError);
    await assert.rejects(
      createContainer(t.db, { ...newContainer(1), key: c.key }),
      DesConflictError,
    );
    await assert.rejects(
      createContainer(t.db, { ...newContainer(1), containerId: "NOT-HEX" }),
      DesInputError,
    );

    assert.equal(await setContainerState(t.db, c.containerId, "building", "uploaded"), true);
    // The same transition again loses: the container is no longer in `building`.
    assert.equal(await setContainerState(t.db, c.containerId, "building", "uploaded"), false);
    assert.equal(await setContainerState(t.db, "ffff", "building", "uploaded"), false);
    await assert.rejects(
      setContainerState(t.db, c.containerId, "uploaded", "committed"),
      DesInputError,
    );
    assert.equal(await setContainerState(t.db, c.containerId, "uploaded", "verified"), true);
    // Committing needs size, file count and the name range.
    await assert.rejects(
      setContainerState(t.db, c.containerId, "verified", "committed", { size: 1 }),
      DesInputError,
    );
    assert.equal((await getContainer(t.db, c.containerId))?.state, "verified");
    assert.equal(
      await setContainerState(t.db, c.containerId, "verified", "committed", FACTS),
      true,
    );
    const committed = await getContainer(t.db, c.containerId);
    assert.equal(committed?.state, "committed");
    assert.ok(committed?.committedAt instanceof Date);
    assert.deepEqual(
      {
        size: committed.size,
        fileCount: committed.fileCount,
        dataBytes: committed.dataBytes,
        firstName: committed.firstName,
        lastName: committed.lastName,
        indexCrc32c: committed.indexCrc32c,
        footerCrc32c: committed.footerCrc32c,
        etag: committed.etag,
      },
      FACTS,
    );
    await assert.rejects(
      setContainerState(t.db, c.containerId, "committed", "aborted"),
      DesInputError,
    );
    assert.equal(await setContainerState(t.db, c.containerId, "committed", "parent_updated"), true);
    assert.equal(
      await setContainerState(t.db, c.containerId, "parent_updated", "sources_released"),
      true,
    );
    assert.equal(await getContainer(t.db, "0123"), null);
  });

  Deno.test(`${engine.kind}: of concurrent commits of one container exactly one wins`, async () => {
    await using t = await engine.create({ migrate: true });
    const c = newContainer(3);
    await createContainer(t.db, c);
    await setContainerState(t.db, c.containerId, "building", "uploaded");
    await setContainerState(t.db, c.containerId, "uploaded", "verified");
    const results = await Promise.all(
      Array.from(
        { length: 6 },
        () => setContainerState(t.db, c.containerId, "verified", "committed", FACTS),
      ),
    );
    assert.equal(results.filter((r) => r).length, 1);
  });

  Deno.test(`${engine.kind}: listing and loading committed containers by shard range`, async () => {
    await using t = await engine.create({ migrate: true });
    const made: Record<string, string> = {};
    for (
      const [label, shard] of [["s1a", 1], ["s1b", 1], ["s2", 2], ["s5", 5], ["s2open", 2]] as const
    ) {
      const c = newContainer(shard);
      made[label] = c.containerId;
      await createContainer(t.db, c);
    }
    // Names compare bytewise ("C"): "0a-1" sorts before "0a0".
    await commit(t.db, made.s1a, { firstName: "0a0", lastName: "0a9" });
    await commit(t.db, made.s1b, { firstName: "0a-1", lastName: "0a-9" });
    await commit(t.db, made.s2);
    await setContainerState(t.db, made.s2, "committed", "parent_updated");
    await commit(t.db, made.s5);
    const aborted = newContainer(2);
    await createContainer(t.db, aborted);
    await setContainerState(t.db, aborted.containerId, "building", "aborted", {
      error: "upload failed",
    });

    const loaded = await committedContainersForShards(t.db, 1, 4);
    assert.deepEqual(loaded.map((c) => c.containerId), [made.s1b, made.s1a, made.s2]);
    assert.deepEqual(Object.keys(loaded[0]).sort(), [
      "bucket",
      "committedAt",
      "containerId",
      "etag",
      "fileCount",
      "firstName",
      "footerCrc32c",
      "indexCrc32c",
      "key",
      "lastName",
      "shard",
      "size",
    ]);
    assert.deepEqual((await committedContainersForShards(t.db, 5, 5)).map((c) => c.shard), [5]);

    const shard2 = await listContainers(t.db, { shard: 2 });
    assert.deepEqual(shard2.map((c) => c.state), ["parent_updated", "building", "aborted"]);
    assert.equal(shard2[2].error, "upload failed");
    const open = await listContainers(t.db, { states: ["building", "uploaded", "verified"] });
    assert.deepEqual(open.map((c) => c.containerId), [made.s2open]);
    assert.deepEqual(await listContainers(t.db, { states: [] }), []);
    assert.equal((await listContainers(t.db, { source: "src", limit: 2 })).length, 2);

    const collations = await t.db.query<{ column_name: string; collation_name: string }>(
      `select column_name, collation_name from information_schema.columns
       where table_name = 'des_containers' and column_name in ('first_name', 'last_name')
       order by column_name`,
    );
    assert.deepEqual(collations.map((c) => c.collation_name), ["C", "C"]);
  });

  Deno.test(`${engine.kind}: committing notifies des_container_committed once, after commit`, async () => {
    await using t = await engine.create({ migrate: true });
    const events: ContainerCommitted[] = [];
    let gotTwo!: () => void;
    const two = new Promise<void>((r) => (gotTwo = r));
    const stop = await onContainerCommitted(t.db, (e) => {
      events.push(e);
      if (events.length === 2) gotTwo();
    });
    const first = newContainer(7);
    const rolledBack = newContainer(8);
    const second = newContainer(9);
    for (const c of [first, rolledBack, second]) await createContainer(t.db, c);
    await commit(t.db, first.containerId);
    await setContainerState(t.db, first.containerId, "committed", "parent_updated");
    // A commit inside a transaction that rolls back raises nothing.
    await setContainerState(t.db, rolledBack.containerId, "building", "uploaded");
    await setContainerState(t.db, rolledBack.containerId, "uploaded", "verified");
    await t.db.transaction(async (tx) => {
      await setContainerState(tx, rolledBack.containerId, "verified", "committed", FACTS);
      throw new Error("rollback");
    }).catch(() => {});
    await commit(t.db, second.containerId);
    await two;
    // Nothing else arrives: a marker sent last on the same channel is delivered after the rest.
    let markerArrived!: () => void;
    const marker = new Promise<void>((resolve) => (markerArrived = resolve));
    const stopMarker = await t.db.listen(CONTAINER_COMMITTED_CHANNEL, (p) => {
      if (p === "marker") markerArrived();
    });
    await t.db.notify(CONTAINER_COMMITTED_CHANNEL, "marker");
    await marker;
    await stopMarker();
    assert.deepEqual(events, [
      { shard: 7, containerId: first.containerId },
      { shard: 9, containerId: second.containerId },
    ]);
    await stop();
  });

  Deno.test(`${engine.kind}: retrievers register, heartbeat and expire`, async () => {
    await using t = await engine.create({ migrate: true });
    const r = await registerRetriever(t.db, {
      id: "r1",
      url: "http://127.0.0.1:1/",
      rangeStart: 0,
      rangeEnd: 127,
    });
    assert.equal(r.rangeEnd, 127);
    await registerRetriever(t.db, { id: "r2", url: "http://h2/", rangeStart: 128, rangeEnd: 255 });
    await registerRetriever(t.db, { id: "r1", url: "http://h1/", rangeStart: 0, rangeEnd: 127 });
    await t.db.query(
      "update des_retrievers set heartbeat_at = now() - interval '1 hour' where id = 'r2'",
    );
    assert.deepEqual((await listRetrievers(t.db, 60_000)).map((x) => [x.id, x.url]), [[
      "r1",
      "http://h1/",
    ]]);
    assert.equal((await listRetrievers(t.db)).length, 2);
    assert.equal(await heartbeatRetriever(t.db, "r2"), true);
    assert.equal((await listRetrievers(t.db, 60_000)).length, 2);
    await unregisterRetriever(t.db, "r2");
    assert.equal(await heartbeatRetriever(t.db, "r2"), false);
    await assert.rejects(
      registerRetriever(t.db, { id: "bad", url: "x", rangeStart: 5, rangeEnd: 4 }),
      DesInputError,
    );
  });

  Deno.test(`${engine.kind}: pack jobs keep a checkpoint`, async () => {
    await using t = await engine.create({ migrate: true });
    const job = await startPackJob(t.db, { shard: 4, source: "s", owner: "p1" });
    assert.equal(job.state, "running");
    assert.ok(
      await checkpointPackJob(t.db, job.id, {
        filesDone: 10,
        bytesDone: 2048,
        containerId: "ab",
        checkpoint: { after: "0a-x", n: 1 },
      }),
    );
    assert.ok(await checkpointPackJob(t.db, job.id, { filesDone: 11, bytesDone: 4096 }));
    const last = await lastPackJob(t.db, 4, "s");
    assert.deepEqual(
      [last?.filesDone, last?.bytesDone, last?.containerId, last?.checkpoint],
      [11, 4096, "ab", { after: "0a-x", n: 1 }],
    );
    assert.ok(await finishPackJob(t.db, job.id, "done"));
    assert.equal(await finishPackJob(t.db, job.id, "failed", "late"), false);
    assert.equal(await checkpointPackJob(t.db, job.id, { filesDone: 1, bytesDone: 1 }), false);
    assert.equal((await lastPackJob(t.db, 4, "s"))?.state, "done");
    assert.equal(await lastPackJob(t.db, 5, "s"), null);
  });

  Deno.test(`${engine.kind}: a job started with a stale reason closes the running ones first`, async () => {
    await using t = await engine.create({ migrate: true });
    const dead = await startPackJob(t.db, { shard: 2, source: "s", owner: "p1" });
    const other = await startPackJob(t.db, { shard: 2, source: "t", owner: "p1" });
    const job = await startPackJob(t.db, { shard: 2, source: "s", owner: "p2" }, "abandoned");
    assert.equal(job.state, "running");
    const rows = await t.db.query<{ id: number; state: string; error: string | null }>(
      "select id, state, error from des_pack_jobs order by id",
    );
    assert.deepEqual(rows.map((r) => [r.id, r.state, r.error]), [
      [dead.id, "failed", "abandoned"],
      [other.id, "running", null],
      [job.id, "running", null],
    ]);
  });
}
