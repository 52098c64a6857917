/**
 * Progress that counts what really happened: the `pack --once` line counts
 * only files of containers that reached the end of their pipeline, the
 * backlog gauge counts rows marked but not packed per source, and every
 * shard and source packed gets a `des_pack_jobs` row with checkpoints.
 */

import { DesUnavailableError } from "../core/errors.ts";
import { Registry } from "../core/metrics.ts";
import type { PackJobRow } from "../db/pack_jobs.ts";
import { Packer } from "../pack/packer.ts";
import { FsObjectStore } from "../store/fs.ts";
import type { ObjectInfo, ObjectWriter } from "../store/object_store.ts";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { createPackWorld, worldPackerOptions } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const MAIN = new URL("../pack/main.ts", import.meta.url).pathname;

/** A filesystem store whose writes all fail (an archive that refuses uploads). */
class RefusingStore extends FsObjectStore {
  override put(): Promise<ObjectInfo> {
    return Promise.reject(new DesUnavailableError("archive refuses writes"));
  }
  override createWriter(): Promise<ObjectWriter> {
    return Promise.reject(new DesUnavailableError("archive refuses writes"));
  }
}

Deno.test({
  name: "pack --once says 0 files packed when no container was committed",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 40, shardBits: 2 });
    try {
      await world.markAll();
      // The archive is a directory in which the source's folder is a file: every upload fails.
      const root = `${world.dir}/store`;
      await Deno.mkdir(`${root}/arch`, { recursive: true });
      await Deno.writeTextFile(`${root}/arch/docs-fs`, "in the way");
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--unstable-kv", MAIN, "--once", "--sources", world.sourcesPath],
        env: {
          ...world.env,
          DES_S3_ENDPOINT: "",
          DES_STORE_ROOT: root,
          DES_ARCHIVE_BUCKET: "arch",
          DES_PACKER_WORKDIR: `${world.dir}/work`,
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 1, new TextDecoder().decode(out.stderr).slice(-2000));
      assertMatch(stdout, /^packed: 0 files, 0 B /m);
      assertMatch(stdout, /\b0 containers\b/);
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name: "packer: backlog gauge per source and pack job checkpoints count committed work",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 120, shardBits: 2 });
    const opened = await world.openSources();
    try {
      const marked = await world.markAll();
      assert(marked > 0);

      // Nothing can be uploaded: the gauge keeps every marked row, progress counts nothing.
      const refused = new Registry();
      let progress = 0;
      const failing = await new Packer(worldPackerOptions(world, opened, {
        store: new RefusingStore(`${world.dir}/refusing`),
        bucket: "refusing",
        metrics: refused,
        onPacked: (files) => progress += files,
      })).runOnce();
      assertEquals(failing.files, 0);
      assertEquals(progress, 0);
      assert(failing.errors.length > 0);
      assertEquals(backlog(refused), marked);
      const failedJobs = await jobs(world);
      assert(failedJobs.length > 0 && failedJobs.every((j) => j.state === "failed"));

      // A run that packs: the gauge drops to 0; each job is done with its files checkpointed.
      const registry = new Registry();
      const result = await new Packer(worldPackerOptions(world, opened, {
        metrics: registry,
        maxContainerFiles: 10,
        onPacked: (files) => progress += files,
      })).runOnce();
      assertEquals(result.errors, []);
      assertEquals(result.files, marked);
      assertEquals(progress, marked);
      assertEquals(backlog(registry), 0);
      const done = (await jobs(world)).filter((j) => j.state === "done");
      assertEquals(done.reduce((n, j) => n + j.filesDone, 0), marked);
      for (const j of done) {
        const checkpoint = j.checkpoint as { lastName: string; containers: number };
        assert(checkpoint.lastName && checkpoint.containers >= 1, JSON.stringify(j));
        assert(j.containerId && j.finishedAt);
      }
      assertEquals((await jobs(world)).filter((j) => j.state === "running"), []);
    } finally {
      await opened.close();
      await world.close();
    }
  },
});

function backlog(registry: Registry): number {
  return registry.gauge("des_packer_backlog_rows", "").get({ source: "docs-fs" });
}

async function jobs(world: Awaited<ReturnType<typeof createPackWorld>>): Promise<PackJobRow[]> {
  return await world.meta.db.query<PackJobRow>(
    `select id, shard, source, owner, state, container_id as "containerId",
       files_done::int as "filesDone", checkpoint, finished_at as "finishedAt"
     from des_pack_jobs order by id`,
  );
}
