import { assertEquals } from "./_helpers/assert.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { Logger } from "../core/log.ts";
import { createContainer, setContainerState } from "../db/containers.ts";
import { containerKey } from "../pack/layout.ts";
import { sweepOrphans } from "../pack/orphans.ts";
import { MemoryObjectStore } from "../store/memory.ts";

const quiet = new Logger("test", { sink: () => {} });

Deno.test("orphan sweep: aborted containers go, objects without a catalog row are kept", async () => {
  await using t = await createTestDatabase({ migrate: true });
  const store = new MemoryObjectStore();
  const id = (n: number) => n.toString(16).padStart(32, "0");
  const aborted = containerKey("docs", 3, 8, id(1));
  const unknown = containerKey("docs", 4, 8, id(2));
  const committedElsewhere = containerKey("docs", 5, 8, id(3));
  const foreign = "not/a/packer/key.txt";
  for (const key of [aborted, unknown, committedElsewhere, foreign]) {
    await store.put(key, new TextEncoder().encode(key));
  }
  await createContainer(t.db, {
    containerId: id(1),
    shard: 3,
    source: "docs",
    bucket: "b",
    key: aborted,
  });
  assertEquals(await setContainerState(t.db, id(1), "building", "aborted"), true);
  await createContainer(t.db, {
    containerId: id(3),
    shard: 5,
    source: "docs",
    bucket: "b",
    key: committedElsewhere,
  });

  const sweep = await sweepOrphans({ db: t.db, store, log: quiet }, {
    rangeStart: 0,
    rangeEnd: 255,
    busyShards: new Set(),
  });
  assertEquals(sweep.deleted, [aborted]);
  assertEquals(sweep.unknown, [unknown]);
  assertEquals(sweep.foreign, 1);
  const left = [];
  for await (const o of store.list("")) left.push(o.key);
  assertEquals(left.sort(), [committedElsewhere, foreign, unknown].sort());
});
