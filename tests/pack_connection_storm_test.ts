/**
 * A connection storm during packing: while a packer service packs, every
 * backend of the DES metadata database and of the parent's database is
 * terminated 20 times in 10 seconds. The packer process must stay up the
 * whole time (no crash, no unhandled rejection), finish the work once the
 * storm is over, and the archive must hold every file exactly once.
 */

import { listContainers } from "../db/containers.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { auditArchive, createPackWorld } from "./_helpers/pack_world.ts";
import { startConnectionStorm } from "./_helpers/pg_storm.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const MAIN = new URL("../pack/main.ts", import.meta.url).pathname;

Deno.test({
  name: "packer: a connection storm during packing kills no process and packs every file once",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 1200, shardBits: 4 });
    let child: Deno.ChildProcess | undefined;
    try {
      await world.markAll();
      const source = world.sources.get("docs-fs")!;
      const eligible = source.fixture.eligibleIds.size;
      child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-kv",
          MAIN,
          "--sources",
          world.sourcesPath,
          "--port",
          "0",
          "--host",
          "127.0.0.1",
          "--interval",
          "300ms",
          "--lease",
          "3s",
          "--max-container-files",
          "25",
          "--fetch-concurrency",
          "4",
        ],
        env: { ...world.env, DES_PACKER_WORKDIR: `${world.dir}/work`, DES_LOG_LEVEL: "error" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const exited = child.status.then((s) => s);
      let alive = true;
      exited.then(() => alive = false);
      const stderr = new Response(child.stderr).text();

      // The storm starts once packing is under way.
      await until(async () => (await listContainers(world.meta.db, {})).length > 0, 60_000);
      const metaStorm = startConnectionStorm(world.meta.url, { rounds: 20, intervalMs: 500 });
      const parentStorm = startConnectionStorm(source.fixture.url, { rounds: 20, intervalMs: 500 });
      const terminated = (await metaStorm.done) + (await parentStorm.done);
      if (!alive) throw new Error(`the packer died during the storm:\n${await stderr}`);

      // Afterwards the service finishes the work by itself.
      await until(async () => {
        const [{ n }] = await source.fixture.db.query<{ n: number }>(
          `select count(*)::int as n from ${source.fixture.table}
           where state <> $1 and doc_id = any($2::bigint[])`,
          [source.fixture.source.statuses.packed, [...source.fixture.eligibleIds]],
        );
        const unfinished = await listContainers(world.meta.db, {
          states: ["building", "uploaded", "verified", "committed"],
        });
        return n === 0 && unfinished.length === 0;
      }, 180_000);
      if (!alive) throw new Error(`the packer died after the storm:\n${await stderr}`);
      child.kill("SIGTERM");
      const status = await exited;
      const log = await stderr;
      assertEquals(status.code, 0, log);
      assert(!/Uncaught/.test(log), log);

      const audit = await auditArchive(world, { final: true, deleteSources: false });
      assertEquals(audit.files, eligible);
      assertEquals(audit.packedRows, eligible);
      console.log(
        `storm: ${terminated} backends terminated in 2 x 20 rounds; ` +
          `${audit.files} files packed once in ${audit.containers.length} containers`,
      );
    } finally {
      try {
        child?.kill("SIGKILL");
      } catch { /* already gone */ }
      await child?.status;
      await world.close();
    }
  },
});

/** Poll `check` until it is true; fail after `ms` (a bound far above the normal time). */
async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await check().catch(() => false)) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
