/**
 * The compaction kill test: `pack/compact_main.ts` runs as a child process
 * over containers that lost about 40 % of their files (one lost all) and is
 * SIGKILLed right after a write-ahead transition into each state of a
 * compaction (`DES_FAULT_KILL_AT`: building, uploaded, verified, committed,
 * parent_updated, retired, deleted), again and again, at least 20 times.
 * After every kill each live name is in exactly one visible container.
 * After one `des recover`: nothing is unfinished, every live name is
 * readable byte for byte from exactly one visible container that its parent
 * row points at, every deleted name answers 410 and none was copied into a
 * compacted container, and every
 * object in the bucket belongs to a visible or retired container. A last
 * compaction run leaves no deleted byte in any object, and every tombstone
 * erased.
 */

import { VISIBLE_STATES } from "../db/container_states.ts";
import { listContainers } from "../db/containers.ts";
import { DesReader } from "../format/reader.ts";
import { compactCommand } from "../pack/compact_main.ts";
import { recoverCommand } from "../pack/main.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { bytesEqual } from "../format/binary.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  assertArchiveConsistent,
  assertGone,
  contentByName,
  deleteNames,
  packWorld,
  randomContent,
  scanStoreFor,
  visibleFiles,
  worldRetriever,
} from "./_helpers/lifecycle.ts";
import { createPackWorld, expireLeases } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { runCompactor } from "./_helpers/killable_run.ts";

const STEPS = ["building", "uploaded", "verified", "committed", "parent_updated"];

Deno.test({
  name: "compactor: SIGKILL at every state boundary loses nothing, duplicates nothing",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      // Enough containers that each wave still has work left when its last kills come.
      fsRows: 420,
      shardBits: 2,
      allEligible: true,
      size: (i) => i % 12 === 0 ? 2500 : 200 + (i * 53) % 600,
      content: randomContent,
    });
    try {
      await (await packWorld(world, { maxContainerFiles: 12, bigFileThreshold: 2000 })).close();
      const fs = world.sources.get("docs-fs")!;
      const contentOf = await contentByName(fs);
      const files = await visibleFiles(world.meta.db, world.archive);
      const names = [...files.keys()].sort();
      const containers = [...new Set([...files.values()].map((f) => f.containerId))];
      assert(containers.length >= 20, `only ${containers.length} containers`);
      // Two names in five deleted, every name of the first container; in two waves (half of
      // the containers each), so the second wave's kills happen after the deletions of the first.
      const wave = (n: string) => containers.indexOf(files.get(n)!.containerId) % 2;
      const deleted = names.filter((n, i) =>
        i % 5 < 2 || files.get(n)!.containerId === containers[0]
      );
      const live = names.filter((n) => !deleted.includes(n));

      const env = {
        ...world.env,
        DES_PACKER_WORKDIR: `${world.dir}/work`,
        DES_BIG_FILE_THRESHOLD: "2000",
        DES_COMPACT_THRESHOLD: "0.05",
        DES_COMPACT_GRACE: "0s",
      };
      const tally = new Map<string, number>();
      const kill = async (killAt: string) => {
        await expireLeases(world);
        const run = await runCompactor(world, { ...env, DES_FAULT_KILL_AT: killAt });
        if (run.killed) {
          const state = killAt.split(":")[0];
          tally.set(state, (tally.get(state) ?? 0) + 1);
        } else {
          assertEquals(run.code, 0, `${killAt}: ${run.stderr}`);
        }
        // After every kill each live name is in exactly one visible container.
        const now = await visibleFiles(world.meta.db, world.archive);
        for (const name of live) assert(now.has(name), `${name} lost after a kill at ${killAt}`);
      };
      const steps = (rounds: number) =>
        [...Array(rounds).keys()].flatMap((r) => STEPS.map((s) => `${s}:${r + 1}`));
      await deleteNames(
        world.meta.db,
        world.archive,
        world.shardBits,
        deleted.filter((n) => wave(n) === 0),
      );
      for (const at of ["retired:1", ...steps(2), "deleted:1", "deleted:2", "deleted:3"]) {
        await kill(at);
      }
      await deleteNames(
        world.meta.db,
        world.archive,
        world.shardBits,
        deleted.filter((n) => wave(n) === 1),
      );
      // The last kill leaves a verified replacement for the recovery pass to switch.
      for (const at of [...steps(2), "verified:1"]) await kill(at);
      const kills = [...tally.values()].reduce((a, b) => a + b, 0);

      // One recovery pass.
      await expireLeases(world);
      const [{ waiting }] = await world.meta.db.query<{ waiting: number }>(
        "select count(*)::int as waiting from des_containers where state = 'verified'",
      );
      assertEquals(waiting, 1, "the last kill left no verified replacement");
      const recoverEnv = new Map(Object.entries(env));
      assertEquals(await recoverCommand(["--sources", world.sourcesPath], recoverEnv), 0);
      const unfinished = await listContainers(world.meta.db, {
        states: ["building", "uploaded", "verified", "committed"],
      });
      assertEquals(unfinished.map((c) => c.state), []);
      const now = await visibleFiles(world.meta.db, world.archive);
      // A deleted name is still in a visible container only when that container is one packed
      // from originals and not compacted yet; no deleted byte is readable: every read is 410.
      const compacted = new Set(
        (await listContainers(world.meta.db, { states: VISIBLE_STATES }))
          .filter((c) => c.compactedFrom !== null).map((c) => c.containerId),
      );
      for (const name of deleted) {
        const holder = now.get(name);
        assert(!holder || !compacted.has(holder.containerId), `${name} copied by compaction`);
      }
      const retriever = await worldRetriever(world);
      try {
        await assertGone(retriever, deleted);
      } finally {
        await retriever.close();
      }
      assertEquals(live.filter((n) => !now.has(n)), []);
      const visible = await listContainers(world.meta.db, { states: VISIBLE_STATES });
      for (const c of visible) {
        const reader = await DesReader.open(new StoreRangeSource(world.archive, c.key), {
          bigFiles: world.archive,
        });
        for (const entry of reader.entries()) {
          // A deleted big file's object went with its tombstone.
          if (deleted.includes(entry.name)) continue;
          const bytes = await reader.readFile(entry);
          assert(bytesEqual(bytes, contentOf.get(entry.name)!), `${entry.name} differs`);
        }
      }
      await assertArchiveConsistent(world, fs, now);

      // A last run finishes everything; no object holds a deleted byte.
      assertEquals(await compactCommand(["--once", "--sources", world.sourcesPath], recoverEnv), 0);
      const after = await visibleFiles(world.meta.db, world.archive);
      for (const name of deleted) assert(!after.has(name), `deleted ${name} is still visible`);
      const payloads = new Map(deleted.map((n) => [n, contentOf.get(n)!]));
      assertEquals(await scanStoreFor(world.archive, payloads), []);
      const [{ n }] = await world.meta.db.query<{ n: number }>(
        "select count(*)::int as n from des_tombstones where erased_at is null",
      );
      assertEquals(n, 0);
      const aborted = await listContainers(world.meta.db, { states: ["aborted"] });
      console.log(
        `compaction kill tally: ${[...tally].map(([k, v]) => `${k} ${v}`).join(", ")}; ` +
          `${kills} kills; ${containers.length} containers, ${aborted.length} replacements aborted`,
      );
      assert(kills >= 20, `only ${kills} kills`);
      for (const state of [...STEPS, "retired", "deleted"]) {
        assert((tally.get(state) ?? 0) >= 1, `no kill at ${state}`);
      }
    } finally {
      await world.close();
    }
  },
});
