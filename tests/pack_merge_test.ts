/**
 * Merging small containers (`DES_COMPACT_MERGE_BELOW`) against PostgreSQL
 * and the S3 server: the small settled containers of each shard become one,
 * without their deleted files, while four readers read every live name
 * through a retriever: no read fails, every byte is identical, the parent
 * rows point at the merged container, and the old objects go after the
 * grace period. The grouping itself is checked on its own, and so is a
 * packer run with `--compact`, which merges what it packed.
 */

import { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { type ContainerRow, getContainer, listContainers } from "../db/containers.ts";
import { Compactor, MAX_MERGE_CONTAINERS, mergeGroups } from "../pack/compactor.ts";
import { packCommand } from "../pack/main.ts";
import { Packer } from "../pack/packer.ts";
import { Retriever } from "../retriever/retriever.ts";
import { fetchGetStore } from "./_helpers/archive_fixture.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  assertArchiveConsistent,
  deleteNames,
  randomContent,
  visibleFiles,
} from "./_helpers/lifecycle.ts";
import { createPackWorld, parentStates, worldPackerOptions } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const quiet = new Logger("merge-test", { level: "error" });

Deno.test("merge groups: one source each, in name order, at most the limit and 64 containers", () => {
  const row = (id: string, source: string, size: number, firstName: string) =>
    ({ containerId: id, source, size, firstName }) as ContainerRow;
  const ids = (groups: ContainerRow[][]) => groups.map((g) => g.map((c) => c.containerId));
  assertEquals(
    ids(mergeGroups([
      row("c", "a", 400, "n3"),
      row("a", "a", 400, "n1"),
      row("x", "b", 100, "n0"),
      row("b", "a", 400, "n2"),
      row("y", "b", 100, "n9"),
    ], 1000)),
    [["a", "b"], ["x", "y"]],
    "two of 400 fit 1000, the third is left; sources are never mixed",
  );
  assertEquals(ids(mergeGroups([row("a", "a", 600, "n1"), row("b", "a", 600, "n2")], 1000)), []);
  const many = Array.from(
    { length: 130 },
    (_, i) => row(`c${i}`, "a", 1, `n${String(i).padStart(3, "0")}`),
  );
  assertEquals(
    mergeGroups(many, 1000).map((g) => g.length),
    [MAX_MERGE_CONTAINERS, MAX_MERGE_CONTAINERS, 2],
  );
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
      await world.markAll();
      const opened = await world.openSources();
      try {
        const packer = new Packer(worldPackerOptions(world, opened, {
          maxContainerFiles: 10,
          logger: quiet,
        }));
        assertEquals((await packer.runOnce()).errors, []);
        const fs = world.sources.get("docs-fs")!;
        const contentOf = new Map<string, Uint8Array>();
        for (const p of await parentStates(fs)) {
          contentOf.set(p.name!, fs.fixture.contentOf(fs.rowsById.get(p.id)!));
        }
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
              else if (!sameBytes(bytes, contentOf.get(name)!)) {
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
          mergeBelow: 1 << 20,
        });
        const first = await compactor.runOnce();
        assertEquals(first.errors, []);
        assertEquals(first.merges, 2, "one merge per shard");
        assertEquals(first.compacted, before.length);
        assertEquals(first.filesCopied, live.length);
        assert(/des_compact_merges_total 2/.test(compactor.metrics.registry.render()));

        const after = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        assertEquals(after.map((c) => c.shard).sort(), [0, 1]);
        for (const merged of after) {
          const olds = before.filter((c) => c.shard === merged.shard).map((c) => c.containerId);
          assertEquals([...merged.compactedFrom!].sort(), olds.sort());
          for (const id of olds) {
            const old = (await getContainer(world.meta.db, id))!;
            assert(["retired", "deleted"].includes(old.state), `${id} is ${old.state}`);
            assertEquals(old.replacedBy, merged.containerId);
          }
        }
        const now = await visibleFiles(world.meta.db, world.archive);
        assertEquals([...now.keys()].sort(), live);
        await assertArchiveConsistent(world, fs, now);

        // Nothing is left to merge; past the grace period the old objects go.
        let deletedObjects = first.objectsDeleted;
        for (let i = 0; i < 20 && deletedObjects < before.length; i++) {
          const run = await compactor.runOnce();
          assertEquals([run.errors, run.merges], [[], 0]);
          deletedObjects += run.objectsDeleted;
        }
        assertEquals(deletedObjects, before.length);
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
        await opened.close();
      }
    } finally {
      stop.now = true;
      await retriever?.close();
      await world.close();
    }
  },
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

Deno.test({
  name: "pack --once --compact: the packing run is followed by a compaction run that merges",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 60, shardBits: 1, allEligible: true });
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
      assertEquals(visible.map((c) => c.shard).sort(), [0, 1], "one container per shard");
      assert(retired.length >= 10, `only ${retired.length} packed containers were merged`);
      for (const c of visible) {
        assert(c.compactedFrom!.length >= 2, `${c.containerId} merged nothing`);
      }
      const fs = world.sources.get("docs-fs")!;
      const files = await visibleFiles(world.meta.db, world.archive);
      assertEquals([...files.keys()].sort(), (await parentStates(fs)).map((p) => p.name).sort());
      await assertArchiveConsistent(world, fs, files);
    } finally {
      await world.close();
    }
  },
});
