/**
 * The scrubber against PostgreSQL and the S3 server: a pass at 1 MiB/s over
 * about 3 MiB of containers takes at least 2 s; a byte flipped in a
 * container object is found, the damaged name answers a 502 damaged-file
 * problem (never wrong bytes, whatever the range) until a repair from its
 * original writes a good copy, which is then served; a damaged file whose
 * original is gone is recorded lost and reported by `des scrub --report`; a
 * truncated container is recorded with an error; the metrics say so.
 */

import { Logger } from "../core/log.ts";
import { listDamagedFiles } from "../db/damaged_files.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { type ContainerRow, listContainers } from "../db/containers.ts";
import { DesReader } from "../format/reader.ts";
import { Packer } from "../pack/packer.ts";
import { Retriever } from "../retriever/retriever.ts";
import { Repairer } from "../scrub/repair.ts";
import { Scrubber } from "../scrub/scrubber.ts";
import { readAll } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import {
  createPackWorld,
  type PackWorld,
  parentStates,
  worldPackerOptions,
} from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { until } from "./_helpers/until.ts";

const quiet = new Logger("scrub", { level: "error" });
const KiB = 1024;

/** The first file of a container and its bytes as the parent holds them. */
async function firstFile(world: PackWorld, c: ContainerRow) {
  const reader = await DesReader.open(new StoreRangeSource(world.archive, c.key));
  const entry = reader.entries().next().value!;
  const meta = reader.meta(entry);
  const source = world.sources.get("docs-fs")!;
  const row = source.rowsById.get(meta.attrs!.parentId)!;
  return { entry, row, original: source.fixture.contentOf(row) };
}

async function rewrite(world: PackWorld, key: string, change: (bytes: Uint8Array) => Uint8Array) {
  const bytes = await readAll((await world.archive.get(key)).body);
  await world.archive.put(key, change(bytes));
}

async function read(retriever: Retriever, name: string, range?: string) {
  const headers: Record<string, string> = range ? { range } : {};
  const response = await retriever.handle(new Request(`http://r/files/${name}`, { headers }));
  return { status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
}

Deno.test({
  name:
    "scrub: rate bound, flipped byte found, 502 before repair, repaired copy served, lost reported",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 32,
      shardBits: 2,
      allEligible: true,
      size: (i) => 96 * KiB + i,
    });
    const opened = await world.openSources();
    let retriever: Retriever | undefined;
    try {
      await world.markAll();
      const packer = new Packer(worldPackerOptions(world, opened, { logger: quiet }));
      assertEquals((await packer.runOnce()).errors, []);
      const containers = await listContainers(world.meta.db, { states: VISIBLE_STATES });
      assert(containers.length >= 3, `expected 3 or more containers, got ${containers.length}`);
      const total = containers.reduce((n, c) => n + c.size!, 0);
      assert(total >= 3 * 1024 * KiB, `expected 3 MiB of containers, got ${total}`);
      const base = {
        db: world.meta.db,
        storeFor: () => world.archive,
        range: { start: 0, end: 3 },
        logger: quiet,
      };

      // A pass at 1 MiB/s over 3 MiB or more cannot end in less than 2 s.
      const started = performance.now();
      const slow = await new Scrubber({ ...base, rateBytesPerSecond: 1024 * KiB }).runPass();
      const seconds = (performance.now() - started) / 1000;
      assertEquals(slow.containers, containers.length);
      assertEquals(slow.ok, containers.length);
      assert(slow.bytes >= total * 0.99, `read ${slow.bytes} of ${total} bytes`);
      assert(seconds >= 2, `3 MiB at 1 MiB/s took only ${seconds.toFixed(2)} s`);

      retriever = await Retriever.start({
        id: "r-scrub",
        range: { start: 0, end: 3 },
        nameFormat: { shardBits: 2, prefix: "" },
        db: world.meta.db,
        storeFor: () => world.archive,
        readinessBucket: world.archive.bucket,
        catalogRefreshMs: 0,
        log: quiet,
      });
      const [damaged, lost, truncated] = containers;
      const a = await firstFile(world, damaged);
      const b = await firstFile(world, lost);
      assertEquals((await read(retriever, a.entry.name)).status, 200);

      // One byte flipped inside a file of each of two containers; a third loses its tail.
      for (const [c, f] of [[damaged, a], [lost, b]] as const) {
        await rewrite(world, c.key, (bytes) => {
          bytes[f.entry.dataOffset + 7] ^= 0x20;
          return bytes;
        });
      }
      await rewrite(world, truncated.key, (bytes) => bytes.slice(0, bytes.byteLength - 100));
      const fs = world.sources.get("docs-fs")!;
      await Deno.remove(`${fs.fixture.originalsRoot}/${b.row.location}`);

      // A range read not covering the flipped byte cannot notice anything itself.
      const before = await read(retriever, a.entry.name, "bytes=100-199");
      assertEquals(before.status, 206);

      const scrubber = new Scrubber(base);
      const found = await scrubber.runPass();
      assertEquals(found.damagedFiles, 2);
      assertEquals(found.errors, 1);
      assertEquals(found.ok, containers.length - 3);
      const records = await listDamagedFiles(world.meta.db);
      assertEquals(
        records.map((r) => [r.name, r.containerId, r.state]).sort(),
        [
          [a.entry.name, damaged.containerId, "damaged"],
          [b.entry.name, lost.containerId, "damaged"],
        ].sort(),
      );
      assertMatch(records[0].detail!, /mismatch/);
      const results = await world.meta.db.query<{ id: string; ok: boolean; error: string | null }>(
        "select container_id as id, ok, error from des_scrub_results",
      );
      const resultOf = (c: ContainerRow) => results.find((r) => r.id === c.containerId)!;
      assertEquals(resultOf(damaged).ok, false);
      assertEquals(resultOf(truncated).ok, false);
      assertMatch(resultOf(truncated).error!, /could not read the container/);
      assertMatch(scrubber.metrics.registry.render(), /des_scrub_damaged_files_total 2/);
      assertMatch(
        scrubber.metrics.registry.render(),
        /des_scrub_containers_total\{result="error"\} 1/,
      );

      // The retriever learns of the damage by NOTIFY: every read of the name is a 502 problem.
      await until(
        async () => (await read(retriever!, a.entry.name, "bytes=100-199")).status === 502,
        "the damaged name to answer 502",
      );
      for (const range of [undefined, "bytes=0-9", "bytes=100-199"]) {
        const response = await retriever.handle(
          new Request(`http://r/files/${a.entry.name}`, { headers: range ? { range } : {} }),
        );
        assertEquals(response.status, 502);
        assertEquals(response.headers.get("content-type"), "application/problem+json");
        assertEquals(response.headers.get("x-des-problem"), "damaged-file");
        const problem = await response.json();
        assertEquals(problem.type, "https://des.dev/problems/damaged-file");
        assertMatch(problem.detail, new RegExp(a.entry.name));
      }

      // Repair: the original with the recorded checksum is packed again; the lost one is reported.
      const repairing = new Scrubber({ ...base, repair: new Repairer(packer.context) });
      const repaired = await repairing.runPass();
      assertEquals([repaired.repaired, repaired.lost, repaired.deferred], [1, 1, 0]);
      const after = await listDamagedFiles(world.meta.db);
      const recordA = after.find((r) => r.name === a.entry.name)!;
      assertEquals(recordA.state, "repaired");
      assertEquals(after.find((r) => r.name === b.entry.name)!.state, "lost");
      const fresh = (await listContainers(world.meta.db, { states: VISIBLE_STATES }))
        .find((c) => c.containerId === recordA.repairedContainerId)!;
      assertEquals([fresh.shard, fresh.fileCount, fresh.state], [
        damaged.shard,
        1,
        "parent_updated",
      ]);
      const parent = (await parentStates(fs)).find((p) => p.id === a.row.id)!;
      assertEquals(parent.container, `${world.archive.url}/${fresh.key}`);
      assertMatch(
        repairing.metrics.registry.render(),
        /des_scrub_repairs_total\{outcome="lost"\} 1/,
      );

      // The repaired name serves the original's bytes again, whole and by range.
      await until(
        async () => (await read(retriever!, a.entry.name)).status === 200,
        "the repaired name to be served",
      );
      assertEquals((await read(retriever, a.entry.name)).body, a.original);
      const part = await read(retriever, a.entry.name, "bytes=0-99");
      assertEquals([part.status, part.body], [206, a.original.slice(0, 100)]);
      assertEquals((await read(retriever, b.entry.name)).status, 502);

      // des scrub --report names the lost file and exits 1.
      const report = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "cli/des.ts", "scrub", "--report", "--json"],
        env: { ...world.env, DES_LOG_LEVEL: "error" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(report.stdout);
      assertEquals(report.code, 1, new TextDecoder().decode(report.stderr));
      const json = JSON.parse(text);
      assertEquals(json.damagedFiles, { damaged: 0, repaired: 1, lost: 1 });
      assertEquals(json.coverage.failing, 3);
      const plain = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "cli/des.ts", "scrub", "--report"],
        env: { ...world.env, DES_LOG_LEVEL: "error" },
        stdout: "piped",
      }).output();
      assertMatch(
        new TextDecoder().decode(plain.stdout),
        new RegExp(`lost files \\(no original left to repair from\\): ${b.entry.name}`),
      );
    } finally {
      await retriever?.close();
      await opened.close();
      await world.close();
    }
  },
});
