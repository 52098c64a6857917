/**
 * A big file deleted while compaction copies it: the delete removes the
 * object of the container that held it then and records the erasure, but
 * the copy already holds the bytes. The switch is called off and the copy
 * aborted; the next run compacts without the deleted file, and after the
 * grace period no object holds its bytes.
 */

import { VISIBLE_STATES } from "../db/container_states.ts";
import { listContainers } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import { getTombstone } from "../db/tombstones.ts";
import { Compactor } from "../pack/compactor.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  contentByName,
  deleteNames,
  packWorld,
  randomContent,
  scanStoreFor,
  visibleFiles,
} from "./_helpers/lifecycle.ts";
import { createPackWorld } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const BIG_FILE_THRESHOLD = 2000;

Deno.test({
  name: "compaction: a big file deleted between the copy and the switch is not kept by the copy",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 40,
      shardBits: 1,
      allEligible: true,
      size: (i) => (i % 10 === 0 ? 5000 : 300),
      content: randomContent,
    });
    try {
      const { packer, close } = await packWorld(world, {
        maxContainerFiles: 10,
        bigFileThreshold: BIG_FILE_THRESHOLD,
      });
      try {
        const fs = world.sources.get("docs-fs")!;
        const contentOf = await contentByName(fs);
        const files = await visibleFiles(world.meta.db, world.archive);
        const victim = [...files.keys()].find((n) => files.get(n)!.size > BIG_FILE_THRESHOLD)!;
        assert(victim, "no big file");
        const holder = files.get(victim)!.containerId;
        // Dead bytes in the victim's container (over the 1 % threshold below), the victim not
        // among them.
        const dead = [...files.keys()]
          .filter((n) => n !== victim && files.get(n)!.containerId === holder).slice(0, 5);
        await deleteNames(world.meta.db, world.archive, world.shardBits, dead);

        // The victim is deleted when the copy is made and uploaded, just before the switch
        // (the check that the old container is still replaceable).
        let fired = false;
        const db = new Proxy(world.meta.db, {
          get(target, property) {
            const value = Reflect.get(target, property, target);
            if (property !== "query") {
              return typeof value === "function" ? value.bind(target) : value;
            }
            return async (sql: string, params?: unknown[]) => {
              const replaceable = /count\(\*\)::int as n from des_containers/.test(sql) &&
                (params?.[0] as string[] | undefined)?.includes(holder);
              if (!fired && replaceable) {
                fired = true;
                await deleteNames(world.meta.db, world.archive, world.shardBits, [victim]);
              }
              return await (value as Db["query"]).call(target, sql, params);
            };
          },
        }) as Db;
        const compactor = new Compactor({ ...packer.context, db }, {
          rangeStart: 0,
          rangeEnd: 1,
          threshold: 0.01,
          graceMs: 0,
          bigFileThreshold: BIG_FILE_THRESHOLD,
        });
        const first = await compactor.runOnce();
        assert(fired, "the delete did not happen during the compaction");
        assertEquals(first.compacted, 0, "the switch went ahead");
        assertEquals(first.errors.length, 1);
        const aborted = await listContainers(world.meta.db, { states: ["aborted"] });
        assertEquals(aborted.map((c) => c.compactedFrom), [[holder]]);

        // The next run compacts without the deleted files; then the old objects go.
        const second = await compactor.runOnce();
        assertEquals([second.errors, second.compacted], [[], 1]);
        await compactor.runOnce();
        const now = await visibleFiles(world.meta.db, world.archive);
        assert(!now.has(victim), "the deleted big file is in a visible container");
        assert(![...now.values()].some((f) => f.containerId === holder), "old container visible");
        assertEquals(
          await scanStoreFor(world.archive, new Map([[victim, contentOf.get(victim)!]])),
          [],
        );
        const stone = await getTombstone(world.meta.db, victim);
        assert(stone?.erasedAt, "the tombstone is not erased");
        const visible = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        assert(visible.every((c) => c.containerId !== holder));
      } finally {
        await close();
      }
    } finally {
      await world.close();
    }
  },
});
