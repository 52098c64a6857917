/**
 * The retriever's catalog follows the metadata DB shard by shard: it is
 * ready before any shard is loaded, a shard needed first is loaded at once
 * (its containers only), every shard is loaded in the background, a commit
 * announced meanwhile is kept, and a full reload drops what is no longer
 * visible.
 */

import { createContainer, setContainerState } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import { ContainerCatalog } from "../retriever/catalog.ts";
import { CatalogSync } from "../retriever/catalog_sync.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { TEST_ENGINES } from "./_helpers/pg.ts";

async function commit(db: Db, id: string, shard: number, first: string, last: string) {
  await createContainer(db, { containerId: id, shard, source: "s", bucket: "b", key: `k/${id}` });
  await setContainerState(db, id, "building", "uploaded", {
    size: 10,
    fileCount: 1,
    firstName: first,
    lastName: last,
    etag: "e",
  });
  await setContainerState(db, id, "uploaded", "verified");
  await setContainerState(db, id, "verified", "committed");
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000; // generous: only a hang fails
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: the catalog loads shard by shard after a start that waits for none`, async () => {
    await using t = await engine.create({ migrate: true });
    await commit(t.db, "0a", 0, "0-a", "0-c");
    await commit(t.db, "1a", 1, "1-a", "1-c");
    await commit(t.db, "1b", 1, "1-d", "1-f");
    await commit(t.db, "3a", 3, "3-a", "3-c");
    await createContainer(t.db, {
      containerId: "1c",
      shard: 1,
      source: "s",
      bucket: "b",
      key: "x",
    });
    const catalog = new ContainerCatalog();
    const sync = new CatalogSync(t.db, { start: 0, end: 3 }, catalog, { refreshMs: 0 });
    try {
      await sync.start();
      assert(sync.loaded, "ready once it follows the commits");
      const first = sync.ensureShard(1);
      if (first) await first;
      assert(sync.shardLoaded(1));
      assertEquals(catalog.candidates(1, "1-e").map((c) => c.id), ["1b"]);
      assertEquals(sync.ensureShard(1), undefined);
      await until("every shard", () => sync.complete);
      assertEquals(catalog.size, 4, "building containers are not visible");
      assertEquals(catalog.candidates(3, "3-b").map((c) => c.id), ["3a"]);

      await commit(t.db, "2a", 2, "2-a", "2-c");
      await until("the announced commit", () => catalog.get("2a") !== undefined);
      await t.db.query("update des_containers set state = 'aborted' where container_id = '0a'");
      assertEquals(await sync.refresh(), 4);
      assertEquals(catalog.get("0a"), undefined);
    } finally {
      await sync.close();
    }
  });
}
