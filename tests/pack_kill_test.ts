/**
 * The kill test: `pack/main.ts` runs as a child process over one workload
 * with `DES_DELETE_SOURCES=true` and is SIGKILLed again and again — right
 * after a write-ahead transition into each state (`DES_FAULT_KILL_AT`) and
 * after random delays — and re-run each time. After every kill no original
 * may be gone unless its container is committed and its parent row packed.
 * At the end every file is packed exactly once and byte-identical, the
 * parents agree with the catalog, and after `des recover` the bucket holds
 * nothing but committed containers and their big files.
 */

import { VISIBLE_STATES } from "../db/container_states.ts";
import { createContainer, listContainers, setContainerState } from "../db/containers.ts";
import { recoverCommand } from "../pack/main.ts";
import { parseArchiveKey } from "../pack/layout.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  archiveKeys,
  auditArchive,
  createPackWorld,
  expireLeases,
  type ListedFile,
  type PackWorld,
  parentStates,
} from "./_helpers/pack_world.ts";
import { pendingUploads, s3TestIgnore } from "./_helpers/s3.ts";
import { type KillableRun, runKillable } from "./_helpers/killable_run.ts";

const MAIN = new URL("../pack/main.ts", import.meta.url).pathname;
const STATE_KILLS = [
  "building",
  "aborted",
  "uploaded",
  "verified",
  "committed",
  "parent_updated",
  "sources_released",
];

Deno.test({
  name: "packer: SIGKILL at every state and at random points loses nothing, archives nothing twice",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 1600, shardBits: 3 });
    try {
      await world.markAll();
      const eligible = world.sources.get("docs-fs")!.fixture.eligibleIds.size;
      const tally = new Map<string, number>();
      const listings = new Map<string, ListedFile[]>();
      let runs = 0;
      const kill = async (label: string, options: { killAt?: string; afterMs?: number }) => {
        // A kill at "aborted" needs the shard a kill at "building" left behind: the dead
        // packer's lease ends.
        if (label === "aborted") await expireLeases(world);
        const run = await runPacker(world, { ...options, stream: runs % 2 === 1 });
        runs++;
        if (run.killed) tally.set(label, (tally.get(label) ?? 0) + 1);
        else assertEquals(run.code, 0, `run ${runs} (${label}) failed:\n${run.stderr}`);
        await checkNothingReleasedEarly(world, listings);
        return run.killed;
      };
      // "aborted" happens once per run at most: recovery of the one container a kill at
      // "building" left behind.
      for (const n of [1, 2]) {
        for (const state of STATE_KILLS) {
          await kill(state, { killAt: `${state}:${state === "aborted" ? 1 : n}` });
        }
      }
      // Random points anywhere in a run, start-up and recovery included: a run that finishes
      // first (a fast machine, little work left) does not count and narrows the window, so
      // ten kills land on any machine.
      for (let i = 0, killed = 0, windowMs = 2400; i < 60 && killed < 10; i++) {
        if (await kill("random", { afterMs: 200 + Math.floor(Math.random() * windowMs) })) killed++;
        else windowMs = Math.max(300, Math.floor(windowMs * 0.7));
      }
      const kills = [...tally.values()].reduce((a, b) => a + b, 0);

      // Finish: re-run until a run finds nothing left.
      for (let i = 0; i < 4; i++) {
        const run = await runPacker(world, {});
        runs++;
        assertEquals(run.code, 0, run.stderr);
        const left = await world.sources.get("docs-fs")!.fixture.db.query<{ n: number }>(
          `select count(*)::int as n from ${world.sources.get("docs-fs")!.fixture.table}
           where state = 'queued'`,
        );
        const unfinished = await listContainers(world.meta.db, {
          states: ["building", "uploaded", "verified", "committed", "parent_updated"],
        });
        if (left[0].n === 0 && unfinished.length === 0) break;
      }

      // Plant an orphan (an aborted container whose object is still there), an object with
      // no catalog row at all (kept: only a lost catalog explains it) and a foreign object.
      const orphanId = "ab".repeat(16);
      const orphanKey = `docs-fs/0/${orphanId}.des`;
      await world.archive.put(orphanKey, new TextEncoder().encode("orphan"));
      await createContainer(world.meta.db, {
        containerId: orphanId,
        shard: 0,
        source: "docs-fs",
        bucket: world.archive.bucket,
        key: orphanKey,
      });
      assert(await setContainerState(world.meta.db, orphanId, "building", "aborted"));
      const unknownKey = `docs-fs/0/${"cd".repeat(16)}.des`;
      await world.archive.put(unknownKey, new TextEncoder().encode("no row"));
      await world.archive.put("notes/readme.txt", new TextEncoder().encode("not ours"));
      const recoverEnv = new Map(Object.entries({ ...world.env, DES_DELETE_SOURCES: "true" }));
      // One pass of des recover must leave no object of an unfinished container, also when a
      // packer was killed right after sending CompleteMultipartUpload (recovery aborts
      // pending uploads before it deletes, so RGW cannot bring the object back later). No
      // packer runs any more, so the last killed one's leases end first: recovery (rightly)
      // leaves a shard alone while a lease on it is live.
      await expireLeases(world);
      assertEquals(await recoverCommand(["--sources", world.sourcesPath], recoverEnv), 0);
      assertEquals(await unfinishedObjects(world), [], "objects of unfinished containers remain");

      const audit = await auditArchive(world, { final: true, deleteSources: true });
      assertEquals(audit.files, eligible);
      assertEquals(audit.packedRows, eligible);
      const committed = await listContainers(world.meta.db, { states: VISIBLE_STATES });
      const committedIds = new Set(committed.map((c) => c.containerId));
      const keys = await archiveKeys(world);
      assert(!keys.includes(orphanKey), "the planted orphan survived des recover");
      assert(keys.includes(unknownKey), "des recover deleted an object the catalog does not know");
      assert(keys.includes("notes/readme.txt"), "des recover deleted an object it does not own");
      for (const key of keys.filter((k) => k !== "notes/readme.txt" && k !== unknownKey)) {
        const parsed = parseArchiveKey(key);
        assert(parsed && committedIds.has(parsed.containerId), `orphan object ${key}`);
      }
      for (const c of committed) assert(keys.includes(c.key), `missing object ${c.key}`);
      assertEquals(await pendingUploads(world.archive), []);
      const fs = world.sources.get("docs-fs")!;
      for (const row of fs.fixture.rows) {
        const gone = !await exists(`${fs.fixture.originalsRoot}/${row.location}`);
        assertEquals(gone, fs.fixture.eligibleIds.has(row.id), `original of row ${row.id}`);
      }
      const aborted = await listContainers(world.meta.db, { states: ["aborted"] });

      console.log(
        `kill tally: ${[...tally].map(([k, n]) => `${k} ${n}`).join(", ")}; ` +
          `${kills} kills in ${runs} runs; ${committed.length} containers committed, ` +
          `${aborted.length} aborted; ${audit.files} files packed once`,
      );
      assert(kills >= 20, `only ${kills} kills`);
      for (const state of STATE_KILLS) assert((tally.get(state) ?? 0) >= 1, `no kill at ${state}`);
    } finally {
      await world.close();
    }
  },
});

/** Run `pack/main.ts --once`, killing it at a state (env) or after a delay. */
async function runPacker(
  world: PackWorld,
  options: { killAt?: string; afterMs?: number; stream?: boolean },
): Promise<KillableRun> {
  const args = [
    "--once",
    "--sources",
    world.sourcesPath,
    "--max-container-files",
    "10",
    "--fetch-concurrency",
    "4",
    "--lease",
    "2s",
    ...(options.stream ? ["--stream-upload"] : []),
  ];
  const env: Record<string, string> = {
    ...world.env,
    DES_DELETE_SOURCES: "true",
    DES_PACKER_WORKDIR: `${world.dir}/work`,
    DES_BIG_FILE_THRESHOLD: "1900",
  };
  if (options.killAt) env.DES_FAULT_KILL_AT = options.killAt;
  return await runKillable(MAIN, args, env, options.afterMs);
}

/**
 * Every original that is gone belongs to a packed parent row whose file is
 * in a visible container, and no visible container past `committed` has an
 * unpacked row (checked by the audit).
 */
async function checkNothingReleasedEarly(
  world: PackWorld,
  listings: Map<string, ListedFile[]>,
): Promise<void> {
  const fs = world.sources.get("docs-fs")!;
  const states = new Map((await parentStates(fs)).map((p) => [p.id, p]));
  for (const row of fs.fixture.rows) {
    if (await exists(`${fs.fixture.originalsRoot}/${row.location}`)) continue;
    const p = states.get(row.id)!;
    assertEquals(p.status, fs.fixture.source.statuses.packed, `row ${row.id} lost its original`);
  }
  await auditArchive(world, { final: false, deleteSources: true, contents: false, listings });
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * Container objects in the archive whose catalog row exists but is not
 * visible (not committed), each as `key (state)`.
 */
async function unfinishedObjects(
  world: Awaited<ReturnType<typeof createPackWorld>>,
): Promise<string[]> {
  const rows = await world.meta.db.query<{ key: string; state: string }>(
    "select key, state from des_containers",
  );
  const hidden = new Map(
    rows.filter((r) => !(VISIBLE_STATES as readonly string[]).includes(r.state))
      .map((r) => [r.key, r.state]),
  );
  return (await archiveKeys(world)).filter((k) => hidden.has(k))
    .map((k) => `${k} (${hidden.get(k)})`);
}
