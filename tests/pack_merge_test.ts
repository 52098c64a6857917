/**
 * Merging small containers (`DES_COMPACT_MERGE_BELOW`) against PostgreSQL
 * and the S3 server: the small settled containers of each shard are merged,
 * without their deleted files, while four readers read every live name
 * through a retriever: no read fails, every byte is identical, the parent
 * rows point at the merged container, and the old objects go after the
 * grace period. The grouping itself is checked on its own, and so is a
 * packer run with `--compact`, which merges what it packed.
 */

import { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { type ContainerRow, getContainer, listContainers } from "../db/containers.ts";
import { Compactor } from "../pack/compactor.ts";
import { MAX_MERGE_CONTAINERS, MAX_MERGE_FILES, mergeGroups } from "../pack/merge_groups.ts";
import { packCommand } from "../pack/main.ts";
import { Retriever } from "../retriever/retriever.ts";
import { fetchGetStore } from "./_helpers/archive_fixture.ts";
import { bytesEqual } from "../format/binary.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  assertArchiveConsistent,
  contentByName,
  deleteNames,
  packWorld,
  randomContent,
  visibleFiles,
} from "./_helpers/lifecycle.ts";
import { createPackWorld, parentStates } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const quiet = new Logger("merge-test", { level: "error" });
const MERGE_BELOW = 1 << 20;

Deno.test("merge groups: per source, in name order, similar sizes, four or more, within the limits", () => {
  const row = (id: string, source: string, dataBytes: number, firstName: string, files = 10) =>
    ({
      containerId: id,
      source,
      dataBytes,
      firstName,
      fileCount: files,
      deadFiles: 0,
    }) as ContainerRow;
  const ids = (groups: ContainerRow[][]) => groups.map((g) => g.map((c) => c.containerId));
  const run = (source: string, sizes: number[], at = 0) =>
    sizes.map((size, i) =>
      row(`${source}${at + i}`, source, size, `n${String(at + i).padStart(3, "0")}`)
    );
  // Four or more of one source, in name order; the other source's three are not enough.
  assertEquals(
    ids(
      mergeGroups(
        [...run("b", [100, 100, 100]), ...run("a", [100, 100, 100, 100, 100]).reverse()],
        1000,
      ),
    ),
    [["a0", "a1", "a2", "a3", "a4"]],
  );
  // A container at or over the limit is not small and takes no part; one over 4× the smallest
  // of a run (or a run over the limit) ends it.
  assertEquals(
    ids(
      mergeGroups(
        run("a", [100, 100, 100, 1000, 100, 100, 100, 100, 450, 90, 100, 100, 100]),
        1000,
      ),
    ),
    [["a0", "a1", "a2", "a4", "a5", "a6", "a7"], ["a9", "a10", "a11", "a12"]],
  );
  // The limit ends a group: 10 × 100 fill 1000, the 11th starts the next.
  assertEquals(mergeGroups(run("a", new Array(14).fill(100)), 1000).map((g) => g.length), [10, 4]);
  // At most 64 containers and 50,000 live files.
  assertEquals(
    mergeGroups(run("a", new Array(130).fill(1)), 1000).map((g) => g.length),
    [MAX_MERGE_CONTAINERS, MAX_MERGE_CONTAINERS],
  );
  // 12,000 live files each: four fit 50,000, the last two are too few to merge.
  const many = Array.from({ length: 10 }, (_, i) => row(`f${i}`, "a", 100, `n${i}`, 12_000));
  const fit = Math.floor(MAX_MERGE_FILES / 12_000);
  assertEquals(mergeGroups(many, 10_000).map((g) => g.length), [fit, fit]);
});

Deno.test({
  name: "merge: the small containers of each shard become one while 4 readers read every live name",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 120,
      shardBits: 1,
      allEligible: true,
      size: (i) => 300 + (i * 37) % 500,
      content: randomContent,
    });
    let retriever: Retriever | undefined;
    const stop = { now: false };
    try {
      const { packer, close } = await packWorld(world, { maxContainerFiles: 10 });
      try {
        const fs = world.sources.get("docs-fs")!;
        const contentOf = await contentByName(fs);
        const before = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        assert(before.length >= 10, `only ${before.length} containers`);
        const files = await visibleFiles(world.meta.db, world.archive);
        const names = [...files.keys()].sort();
        // One file in ten deleted: far below the dead-bytes threshold, gone with the merge.
        const deleted = names.filter((_, i) => i % 10 === 3);
        const live = names.filter((n) => !deleted.includes(n));
        await deleteNames(world.meta.db, world.archive, world.shardBits, deleted);

        retriever = await Retriever.start({
          id: "r",
          range: { start: 0, end: 1 },
          nameFormat: { shardBits: world.shardBits, prefix: "" },
          db: world.meta.db,
          storeFor: () => fetchGetStore(world.archive),
          readinessBucket: world.archive.bucket,
          log: quiet,
        });
        const r = retriever;
        const errors: string[] = [];
        const passes = [0, 0, 0, 0];
        const readers = passes.map(async (_, i) => {
          while (!stop.now) {
            for (const name of live) {
              const res = await r.handle(new Request(`http://des/files/${name}`));
              const bytes = new Uint8Array(await res.arrayBuffer());
              if (res.status !== 200) errors.push(`${name}: ${res.status}`);
              else if (!bytesEqual(bytes, contentOf.get(name)!)) {
                errors.push(`${name}: bytes differ`);
              }
            }
            passes[i]++;
          }
        });

        const compactor = new Compactor(packer.context, {
          rangeStart: 0,
          rangeEnd: 1,
          threshold: 0.3,
          graceMs: 0,
          bigFileThreshold: 1 << 20,
          mergeBelow: MERGE_BELOW,
        });
        // What the grouping takes (a short last container of a shard may be left alone).
        const groups = [0, 1].flatMap((shard) =>
          mergeGroups(before.filter((c) => c.shard === shard), MERGE_BELOW)
        );
        assert(groups.length >= 2, `${groups.length} merges due`);
        const taken = groups.flat();
        const first = await compactor.runOnce();
        assertEquals(first.errors, []);
        assertEquals(first.merges, groups.length);
        assertEquals(first.compacted, taken.length);
        assert(
          new RegExp(`des_compact_merges_total ${groups.length}`)
            .test(compactor.metrics.registry.render()),
        );

        const after = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        for (const group of groups) {
          const ids = group.map((c) => c.containerId).sort();
          const merged = after.find((c) => c.compactedFrom?.includes(ids[0]))!;
          assertEquals([...merged.compactedFrom!].sort(), ids);
          for (const id of ids) {
            const old = (await getContainer(world.meta.db, id))!;
            assert(["retired", "deleted"].includes(old.state), `${id} is ${old.state}`);
            assertEquals(old.replacedBy, merged.containerId);
          }
        }
        const untouched = before.filter((c) => !taken.includes(c));
        assertEquals(
          after.filter((c) => c.compactedFrom === null).map((c) => c.containerId).sort(),
          untouched.map((c) => c.containerId).sort(),
        );
        const now = await visibleFiles(world.meta.db, world.archive);
        assertEquals(live.filter((n) => !now.has(n)), []);
        // Deleted names are gone from the merged containers (a container left alone keeps its
        // dead bytes until compaction).
        const mergedIds = new Set(after.filter((c) => c.compactedFrom).map((c) => c.containerId));
        for (const name of deleted) assert(!mergedIds.has(now.get(name)?.containerId ?? ""), name);
        await assertArchiveConsistent(world, fs, now);

        // Nothing is left to merge; past the grace period the old objects go.
        let deletedObjects = first.objectsDeleted;
        for (let i = 0; i < 20 && deletedObjects < taken.length; i++) {
          const run = await compactor.runOnce();
          assertEquals([run.errors, run.merges], [[], 0]);
          deletedObjects += run.objectsDeleted;
        }
        assertEquals(deletedObjects, taken.length);
        const reached = [...passes];
        for (let i = 0; i < 600 && passes.some((n, k) => n < reached[k] + 2); i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        stop.now = true;
        await Promise.all(readers);
        assertEquals(errors.slice(0, 5), []);
        assert(passes.every((n, k) => n >= reached[k] + 2), "readers stalled");
        for (const name of deleted) {
          const status = (await r.handle(new Request(`http://des/files/${name}`))).status;
          assert(status === 410 || status === 404, `${name} answered ${status}`);
        }
      } finally {
        await close();
      }
    } finally {
      stop.now = true;
      await retriever?.close();
      await world.close();
    }
  },
});

Deno.test({
  name: "pack --once --compact: the packing run is followed by a compaction run that merges",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 60,
      shardBits: 1,
      allEligible: true,
      size: () => 400, // containers of one size: each shard has a merge due
    });
    try {
      await world.markAll();
      const env = new Map(Object.entries({
        ...world.env,
        DES_PACKER_WORKDIR: `${world.dir}/work`,
        DES_COMPACT_MERGE_BELOW: "1MiB",
      }));
      const args = ["--once", "--sources", world.sourcesPath, "--max-container-files", "5"];
      assertEquals(await packCommand([...args, "--compact"], env), 0);
      const visible = await listContainers(world.meta.db, { states: VISIBLE_STATES });
      const retired = await listContainers(world.meta.db, { states: ["retired", "deleted"] });
      const merged = visible.filter((c) => c.compactedFrom !== null);
      assert(merged.length >= 1, "nothing was merged");
      for (const c of merged) assert(c.compactedFrom!.length >= 4, `${c.containerId}: too few`);
      assertEquals(retired.length, merged.reduce((n, c) => n + c.compactedFrom!.length, 0));
      const fs = world.sources.get("docs-fs")!;
      const files = await visibleFiles(world.meta.db, world.archive);
      assertEquals([...files.keys()].sort(), (await parentStates(fs)).map((p) => p.name).sort());
      await assertArchiveConsistent(world, fs, files);
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name:
    "compaction: containers of a source not in the sources file are neither merged nor switched; old objects wait for the parent update",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 80,
      shardBits: 1,
      allEligible: true,
      size: () => 400, // containers of one size: each shard has a merge due
    });
    try {
      const { packer, close } = await packWorld(world, { maxContainerFiles: 5 });
      try {
        // Shard 1's containers belong to a source that has left the sources file.
        await world.meta.db.query("update des_containers set source = 'gone' where shard = 1");
        const gone = await listContainers(world.meta.db, { shard: 1, states: VISIBLE_STATES });
        const files = await visibleFiles(world.meta.db, world.archive);
        const inGone = [...files.keys()].filter((n) =>
          files.get(n)!.containerId === gone[0].containerId
        );
        await deleteNames(world.meta.db, world.archive, world.shardBits, inGone.slice(0, 3));
        const compactor = new Compactor(packer.context, {
          rangeStart: 0,
          rangeEnd: 1,
          threshold: 0.3,
          graceMs: 0,
          bigFileThreshold: 1 << 20,
          mergeBelow: 1 << 20,
        });
        const run = await compactor.runOnce();
        assert(run.merges >= 1, "shard 0 was not merged");
        assertEquals(run.errors.length, 1, JSON.stringify(run.errors));
        assert(run.errors[0].error.includes('source "gone"'), run.errors[0].error);
        const still = await listContainers(world.meta.db, { shard: 1, states: VISIBLE_STATES });
        assertEquals(still.map((c) => c.containerId).sort(), gone.map((c) => c.containerId).sort());

        // A replacement whose parent rows are not yet pointed at it keeps its old objects.
        const [merged] = (await listContainers(world.meta.db, { shard: 0, states: VISIBLE_STATES }))
          .filter((c) => c.compactedFrom !== null);
        await world.meta.db.query(
          "update des_containers set state = 'committed' where container_id = $1",
          [merged.containerId],
        );
        await world.meta.db.query(
          "update des_containers set state = 'retired' where container_id = any($1::text[])",
          [merged.compactedFrom],
        );
        const waiting = await compactor.runOnce();
        assertEquals(waiting.objectsDeleted, 0, "old objects deleted before the parent update");
        await world.meta.db.query(
          "update des_containers set state = 'parent_updated' where container_id = $1",
          [merged.containerId],
        );
        const after = await compactor.runOnce();
        assertEquals(after.objectsDeleted, merged.compactedFrom!.length);
      } finally {
        await close();
      }
    } finally {
      await world.close();
    }
  },
});
