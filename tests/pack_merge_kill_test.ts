/**
 * The merge kill test: `pack/compact_main.ts` merges small containers
 * (`DES_COMPACT_MERGE_BELOW`) as a child process and is SIGKILLed right after
 * a write-ahead transition into each state of a merge (building, uploaded,
 * verified, committed, parent_updated, deleted), twice each. After every
 * kill each live name is in exactly one visible container. After one
 * `des recover` and a last run: nothing is unfinished, nothing is left to
 * merge, every live name is readable byte for byte from the container its
 * parent row points at, every deleted name answers 410, and every object in
 * the bucket belongs to a visible or retired container.
 */

import { VISIBLE_STATES } from "../db/container_states.ts";
import { listContainers } from "../db/containers.ts";
import { compactCommand } from "../pack/compact_main.ts";
import { mergeGroups } from "../pack/merge_groups.ts";
import { recoverCommand } from "../pack/main.ts";
import { bytesEqual } from "../format/binary.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { runCompactor } from "./_helpers/killable_run.ts";
import {
  assertArchiveConsistent,
  assertGone,
  contentByName,
  deleteNames,
  packWorld,
  randomContent,
  visibleFiles,
  worldRetriever,
} from "./_helpers/lifecycle.ts";
import { createPackWorld, expireLeases } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const MERGE_STATES = ["building", "uploaded", "verified", "committed", "parent_updated"];
const STATES = [...MERGE_STATES, "deleted"];
const MERGE_BELOW = 12 * 1024;

Deno.test({
  name: "merge: SIGKILL at every state of a merge loses nothing, duplicates nothing",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 480,
      shardBits: 2,
      allEligible: true,
      size: (i) => 300 + (i * 53) % 400,
      content: randomContent,
    });
    try {
      await (await packWorld(world, { maxContainerFiles: 4 })).close();
      const fs = world.sources.get("docs-fs")!;
      const contentOf = await contentByName(fs);
      const before = await listContainers(world.meta.db, { states: VISIBLE_STATES });
      assert(before.length >= 100, `only ${before.length} containers`);
      const names = [...(await visibleFiles(world.meta.db, world.archive)).keys()].sort();
      // One name in ten deleted: under the threshold, so only merging rewrites containers.
      const deleted = names.filter((_, i) => i % 10 === 7);
      const live = names.filter((n) => !deleted.includes(n));
      await deleteNames(world.meta.db, world.archive, world.shardBits, deleted);

      const env = {
        ...world.env,
        DES_PACKER_WORKDIR: `${world.dir}/work`,
        DES_COMPACT_GRACE: "0s",
        // About six containers a merge: about five merges a shard.
        DES_COMPACT_MERGE_BELOW: String(MERGE_BELOW),
      };
      const tally = new Map<string, number>();
      // Old objects go after every merge of a run: the two kills at `deleted` come last, while
      // the runs before them each stop at their first merge and leave work for the next.
      for (const state of [...MERGE_STATES, ...MERGE_STATES, "deleted", "deleted"]) {
        await expireLeases(world);
        const killAt = `${state}:1`;
        const run = await runCompactor(world, { ...env, DES_FAULT_KILL_AT: killAt });
        if (run.killed) tally.set(state, (tally.get(state) ?? 0) + 1);
        else assertEquals(run.code, 0, `${killAt}: ${run.stderr}`);
        const now = await visibleFiles(world.meta.db, world.archive);
        for (const name of live) assert(now.has(name), `${name} lost after a kill at ${killAt}`);
      }
      await expireLeases(world);
      const finishEnv = new Map(Object.entries(env));
      assertEquals(await recoverCommand(["--sources", world.sourcesPath], finishEnv), 0);
      const unfinished = await listContainers(world.meta.db, {
        states: ["building", "uploaded", "verified", "committed"],
      });
      assertEquals(unfinished.map((c) => c.state), []);
      assertEquals(await compactCommand(["--once", "--sources", world.sourcesPath], finishEnv), 0);

      const visible = await listContainers(world.meta.db, { states: VISIBLE_STATES });
      assert(visible.length < before.length, `${visible.length} of ${before.length} left`);
      // Nothing is left that a merge would take.
      for (const shard of [0, 1, 2, 3]) {
        const own = visible.filter((c) => c.shard === shard);
        assertEquals(mergeGroups(own, MERGE_BELOW), [], `shard ${shard}`);
      }
      const now = await visibleFiles(world.meta.db, world.archive);
      assertEquals(live.filter((n) => !now.has(n)), []);
      // A deleted name stays only in a container no merge took (its bytes wait for compaction).
      const merged = new Set(visible.filter((c) => c.compactedFrom).map((c) => c.containerId));
      for (const name of deleted) {
        const holder = now.get(name);
        assert(!holder || !merged.has(holder.containerId), `${name} copied by a merge`);
      }
      await assertArchiveConsistent(world, fs, now);
      const retriever = await worldRetriever(world);
      try {
        for (const name of live) {
          const res = await retriever.handle(new Request(`http://des/files/${name}`));
          const bytes = new Uint8Array(await res.arrayBuffer());
          assertEquals(res.status, 200, name);
          assert(bytesEqual(bytes, contentOf.get(name)!), `${name} differs`);
        }
        await assertGone(retriever, deleted);
      } finally {
        await retriever.close();
      }
      const kills = [...tally.values()].reduce((a, b) => a + b, 0);
      console.log(
        `merge kill tally: ${
          [...tally].map(([k, v]) => `${k} ${v}`).join(", ")
        }; ${kills} kills; ` +
          `${before.length} containers → ${visible.length}`,
      );
      for (const state of STATES) assert((tally.get(state) ?? 0) >= 1, `no kill at ${state}`);
      assert(kills >= 10, `only ${kills} kills`);
    } finally {
      await world.close();
    }
  },
});
