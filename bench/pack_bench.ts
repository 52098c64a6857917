/**
 * Packer benchmark: `Packer.runOnce` over N marked files of a parent source
 * with filesystem originals (read marked rows, fetch originals, write
 * containers, upload, verify, commit, flip the parent rows) against the
 * baseline `tar -cf` of the same files plus one upload of the tar with
 * `S3ObjectStore.put`, on the same S3 server, alternating which goes first.
 *
 * Needs PostgreSQL and the S3 server of the tests (`DES_TEST_S3_*`).
 * Run alone: `deno run -A bench/pack_bench.ts [--files 20000] [--size 4096] [--rounds 3]
 * [--shard-bits 4] [--shard-concurrency 2] [--stream-upload]`.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { Logger } from "../core/log.ts";
import { migrate } from "../db/migrate.ts";
import { Marker } from "../mark/marker.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { openPackSources } from "../pack/pack_sources.ts";
import { Packer } from "../pack/packer.ts";
import { createParentFixture } from "../tests/_helpers/parent_fixture.ts";
import { createTestDatabase } from "../tests/_helpers/pg.ts";
import { removeTestS3Store, testS3Store } from "../tests/_helpers/s3.ts";
import { median, ratio, timeCommand, timeIt } from "./stats.ts";

/** Options of {@linkcode runPackBench}. */
export interface PackBenchOptions {
  /** Files to pack (default 20 000). */
  files?: number;
  /** Bytes per file (default 4096). */
  size?: number;
  /** Measured rounds of each side (default 3). */
  rounds?: number;
  /** Shard bits of the names: 2^bits containers at least (default 4). */
  shardBits?: number;
  /** Stream containers into multipart uploads instead of the workdir. */
  streamUpload?: boolean;
  /** Shards packed at once (default: the packer's default). */
  shardConcurrency?: number;
}

/** Figures produced by {@linkcode runPackBench}. */
export interface PackBenchResult {
  /** Lines for the report. */
  lines: string[];
  /** Median files/s of the packer. */
  packerFilesPerSecond: number;
  /** Median files/s of tar + upload. */
  tarFilesPerSecond: number;
  /** Median CPU of the packer's process per packed file, in µs (user + system). */
  packerCpuMicrosPerFile: number;
}

const quiet = new Logger("packer", { level: "error" });

/** Run the packer benchmark and return printable lines and the medians. */
export async function runPackBench(options: PackBenchOptions = {}): Promise<PackBenchResult> {
  const files = options.files ?? 20_000;
  const size = options.size ?? 4096;
  const rounds = options.rounds ?? 3;
  const shardBits = options.shardBits ?? 4;
  const meta = await createTestDatabase();
  const archive = await testS3Store("pack-bench");
  const parent = await createParentFixture({
    rows: files,
    size: () => size,
    ageDays: () => 100,
    onHold: () => false,
  });
  const sources = await openPackSources([parent.source]);
  try {
    await migrate(meta.db);
    const table = sources.byName.get(parent.source.name)!.table;
    const names = new NameGenerator({ nodeId: 1, shardBits, prefix: "" });
    await new Marker({ table, names, logger: new Logger("marker", { level: "error" }) }).runOnce();
    const root = parent.originalsRoot!;
    const tarFile = `${parent.dir}/originals.tar`;
    const workdir = `${parent.dir}/work`;
    const reset = async () => {
      await parent.db.exec(
        `update ${parent.table} set state = 'queued', archive_container = null, archived_on = null`,
      );
      await meta.db.exec("delete from des_containers");
      for await (const o of archive.list("")) await archive.delete(o.key);
    };
    const pack = async () => {
      const result = await new Packer({
        db: meta.db,
        sources: [...sources.byName.values()],
        store: archive,
        shardBits,
        workdir,
        rangeStart: 0,
        rangeEnd: 2 ** shardBits - 1,
        streamUpload: options.streamUpload,
        shardConcurrency: options.shardConcurrency,
        logger: quiet,
      }).runOnce();
      if (result.files !== files || result.errors.length > 0) {
        throw new Error(`packer packed ${result.files} of ${files} files: ${result.errors}`);
      }
      return result.containers;
    };
    const tarAndUpload = async () => {
      await timeCommand("tar", ["-cf", tarFile, "-C", root, "."]);
      const file = await Deno.open(tarFile);
      const { size: length } = await file.stat();
      await archive.put("bench/originals.tar", file.readable, { contentLength: length });
    };
    // Warm the page cache, the connections and the code paths once.
    await tarAndUpload();
    await pack();
    const packMs: number[] = [];
    const packCpuMs: number[] = [];
    const tarMs: number[] = [];
    let containers = 0;
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ["pack", "tar"] : ["tar", "pack"];
      for (const side of order) {
        await reset();
        if (side === "pack") {
          const t0 = performance.now();
          const cpu0 = cpuUsage();
          containers = await pack();
          packMs.push(performance.now() - t0);
          const cpu = cpuUsage(cpu0);
          packCpuMs.push((cpu.user + cpu.system) / 1000);
        } else {
          tarMs.push(await timeIt(tarAndUpload));
        }
      }
    }
    const packer = median(packMs);
    const tar = median(tarMs);
    const mb = (files * size) / 1e6;
    const line = (label: string, ms: number) =>
      `${label.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${
        Math.round(files / (ms / 1000)).toString().padStart(7)
      } files/s  ${(mb / (ms / 1000)).toFixed(1).padStart(6)} MB/s`;
    const lines = [
      `${files} files × ${size} B (${mb.toFixed(1)} MB), ${2 ** shardBits} shards, ` +
      `${containers} containers, ${options.streamUpload ? "streamed" : "workdir"} upload, ` +
      `${options.shardConcurrency ?? 4} shards at once, ` +
      `median of ${rounds}`,
      line("packer runOnce (end to end)", packer),
      line("tar -cf + one S3 put of the tar", tar),
      `packer process CPU: ${Math.round(median(packCpuMs))} ms, ` +
      `${Math.round((median(packCpuMs) * 1000) / files)} µs per file (user + system, median)`,
      `packer vs tar+upload: ${ratio(tar, packer)} (above 1 = packer faster)`,
    ];
    return {
      lines,
      packerFilesPerSecond: files / (packer / 1000),
      tarFilesPerSecond: files / (tar / 1000),
      packerCpuMicrosPerFile: (median(packCpuMs) * 1000) / files,
    };
  } finally {
    await sources.close();
    await parent.close();
    await removeTestS3Store(archive);
    await meta.drop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      files: { type: "string" },
      size: { type: "string" },
      rounds: { type: "string" },
      "shard-bits": { type: "string" },
      "stream-upload": { type: "boolean", default: false },
      "shard-concurrency": { type: "string" },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const result = await runPackBench({
    files: num(values.files),
    size: num(values.size),
    rounds: num(values.rounds),
    shardBits: num(values["shard-bits"]),
    streamUpload: values["stream-upload"],
    shardConcurrency: num(values["shard-concurrency"]),
  });
  console.log(result.lines.join("\n"));
}
