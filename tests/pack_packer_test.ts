/**
 * The packer end to end against PostgreSQL and the S3 server: rows of a
 * source with filesystem originals and of a source with S3 originals,
 * marked by the Marker, are packed by `runOnce` into containers in the
 * archive bucket; every file lands in exactly one committed container,
 * byte-identical, and the parent rows point at it.
 */

import { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { listContainers } from "../db/containers.ts";
import { listShards } from "../db/shards.ts";
import { Packer, type PackerOptions } from "../pack/packer.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  archiveKeys,
  auditArchive,
  createPackWorld,
  parentStates,
  worldPackerOptions,
} from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const quiet = new Logger("packer", { level: "error" });

Deno.test({
  name: "packer: FS and S3 originals packed once, byte-identical, parents updated",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 160, s3Rows: 90 });
    try {
      const marked = await world.markAll();
      const eligible = [...world.sources.values()].reduce(
        (n, s) => n + s.fixture.eligibleIds.size,
        0,
      );
      assertEquals(marked, eligible);

      // Two originals of marked rows vanish: their rows fail, the rest is packed.
      const fs = world.sources.get("docs-fs")!;
      const lost = (await parentStates(fs)).filter((p) => p.status === "queued").slice(3, 5);
      for (const p of lost) {
        await Deno.remove(`${fs.fixture.originalsRoot}/${fs.rowsById.get(p.id)!.location}`);
      }

      const transitions: string[] = [];
      const opened = await world.openSources();
      try {
        const options: PackerOptions = worldPackerOptions(world, opened, {
          maxContainerFiles: 7,
          maxContainerBytes: 6000,
          bigFileThreshold: 1900,
          fetchConcurrency: 4,
          logger: quiet,
          onTransition: (state) => transitions.push(state),
        });
        const result = await new Packer(options).runOnce();
        assertEquals(result.errors, []);
        assertEquals(result.failedRows, 2);
        assertEquals(result.files, eligible - 2);

        const audit = await auditArchive(world, { final: true, deleteSources: false });
        assertEquals(audit.files, eligible - 2);
        assertEquals(audit.packedRows, eligible - 2);
        assertEquals(audit.failedRows, 2);
        for (const c of audit.containers) {
          assert(c.fileCount! <= 7, `container ${c.key} has ${c.fileCount} files`);
          assert(c.key.startsWith(`${c.source}/${c.shard.toString(16)}/`), c.key);
        }
        // Both sources packed, big files went to _bigFiles/ next to their containers.
        assertEquals(
          new Set(audit.containers.map((c) => c.source)),
          new Set(["docs-fs", "docs-s3"]),
        );
        const keys = await archiveKeys(world);
        assert(keys.some((k) => k.includes("/_bigFiles/")), "expected big files");
        // Each container went through every state once, in order; nothing was aborted.
        const count = (s: string) => transitions.filter((t) => t === s).length;
        for (const s of ["building", "uploaded", "verified", "committed", "parent_updated"]) {
          assertEquals(count(s), audit.containers.length, `transitions into ${s}`);
        }
        assertEquals(count("aborted"), 0);
        const failed = (await parentStates(fs)).filter((p) => lost.some((l) => l.id === p.id));
        assert(failed.every((p) => p.status === "broken" && /not found/.test(p.error ?? "")));
        // Originals are kept without deleteSources.
        for (const row of fs.fixture.rows.filter((r) => !lost.some((l) => l.id === r.id))) {
          await Deno.stat(`${fs.fixture.originalsRoot}/${row.location}`);
        }
        // Shard progress and leases: counts add up, every lease was given back.
        const shards = await listShards(world.meta.db);
        assertEquals(shards.reduce((n, s) => n + s.packedFiles, 0), eligible - 2);
        assert(shards.every((s) => s.leaseOwner === null));

        // A second run finds nothing to do.
        const again = await new Packer(options).runOnce();
        assertEquals([again.files, again.containers, again.errors.length], [0, 0, 0]);
        const after = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        assertEquals(after.length, audit.containers.length);
      } finally {
        await opened.close();
      }
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name: "packer: streamed uploads and deleteSources release originals only after commit",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 60 });
    try {
      await world.markAll();
      const fs = world.sources.get("docs-fs")!;
      const opened = await world.openSources();
      try {
        const states: string[] = [];
        const result = await new Packer(worldPackerOptions(world, opened, {
          maxContainerFiles: 10,
          bigFileThreshold: 1900,
          deleteSources: true,
          streamUpload: true,
          logger: quiet,
          onTransition: (state) => states.push(state),
        })).runOnce();
        assertEquals(result.errors, []);
        const audit = await auditArchive(world, { final: true, deleteSources: true });
        assertEquals(audit.files, fs.fixture.eligibleIds.size);
        for (const row of fs.fixture.rows) {
          const exists = await Deno.stat(`${fs.fixture.originalsRoot}/${row.location}`)
            .then(() => true, () => false);
          assertEquals(exists, !fs.fixture.eligibleIds.has(row.id), `original of row ${row.id}`);
        }
        assert(states.includes("sources_released"));
        // Nothing was left in the workdir.
        const left = await Array.fromAsync(Deno.readDir(`${world.dir}/work`));
        assertEquals(left.map((e) => e.name), []);
      } finally {
        await opened.close();
      }
    } finally {
      await world.close();
    }
  },
});
