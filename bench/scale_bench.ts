/**
 * How the read side's costs grow with the archive:
 *
 * - **start-up**: time until a retriever (`retriever/main.ts`, a child
 *   process) answers `/healthz` (ready: it follows the commits and loads a
 *   shard's catalog on its first read), then until its catalog holds every
 *   container (loaded shard by shard in the background), and its RSS at
 *   both, with a small and a large number of committed containers;
 * - **read latency**: warm-index reads (`Retriever.handle`, in process, byte
 *   cache off, every container opened) of a small and a large archive;
 * - **RAM per cached index entry**: container tail bytes per file (what the
 *   index LRU counts; the V8 heap is too noisy here to split per entry).
 *
 * Needs PostgreSQL (`DES_TEST_DATABASE_URL`, default
 * `postgres://postgres@127.0.0.1:5432/postgres`).
 *
 * Run alone: `deno run -A --unstable-kv bench/scale_bench.ts [--quick]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Logger } from "../core/log.ts";
import { createContainer, setContainerState } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import { migrate } from "../db/migrate.ts";
import { openDb } from "../db/open_db.ts";
import { DesWriter } from "../format/writer.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { shardOf } from "../naming/mod.ts";
import { Retriever } from "../retriever/retriever.ts";
import { MemoryObjectStore } from "../store/memory.ts";
import { count, type Figure } from "./figures.ts";
import { freePort, waitForHttp } from "./http_tools.ts";
import { percentile } from "./stats.ts";

/** Options of {@linkcode runScaleBench}. */
export interface ScaleBenchOptions {
  /** Container counts of the start-up figure (default 1,000 and 100,000). */
  containers?: [number, number];
  /** File counts of the read figure (default 1,000 and 1,000,000). */
  files?: [number, number];
  /** Reads timed per archive (default 20,000). */
  reads?: number;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
}

/** What {@linkcode runScaleBench} measured. */
export interface ScaleBenchResult {
  /** Start-up per container count: to ready, and to the whole catalog in memory. */
  startup: {
    containers: number;
    ms: number;
    rssMiB: number;
    fullMs: number;
    fullRssMiB: number;
  }[];
  /** Read latency per archive size. */
  reads: {
    files: number;
    containers: number;
    p50us: number;
    p99us: number;
    tailBytesPerFile: number;
  }[];
}

const ROOT = new URL("..", import.meta.url).pathname;
const SHARD_BITS = 4;
const FORMAT = { shardBits: SHARD_BITS, prefix: "" };

/** Measure start-up and reads at both sizes. */
export async function runScaleBench(options: ScaleBenchOptions = {}): Promise<ScaleBenchResult> {
  const say = options.progress ?? ((l: string) => console.error(l));
  const adminUrl = Deno.env.get("DES_TEST_DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const startup = [];
  for (const n of options.containers ?? [1000, 100_000]) {
    say(`scale bench: retriever start-up with ${count(n)} committed containers`);
    startup.push(await withDatabase(adminUrl, (db, url) => startupWith(db, url, n)));
  }
  const reads = [];
  for (const n of options.files ?? [1000, 1_000_000]) {
    say(`scale bench: warm-index reads in an archive of ${count(n)} files`);
    reads.push(await withDatabase(adminUrl, (db) => readsWith(db, n, options.reads ?? 20_000)));
  }
  return { startup, reads };
}

async function withDatabase<T>(
  adminUrl: string,
  fn: (db: Db, url: string) => Promise<T>,
): Promise<T> {
  const admin = await openDb(adminUrl, { max: 1 });
  const name = `des_scale_bench_${Date.now().toString(36)}${Deno.pid}`;
  await admin.exec(`create database ${name}`);
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).href;
  const db = await openDb(url);
  try {
    await migrate(db);
    return await fn(db, url);
  } finally {
    await db.close();
    await admin.exec(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.close();
  }
}

/** `n` committed containers (catalog rows only: start-up reads no object). */
async function startupWith(db: Db, url: string, n: number) {
  await db.query(
    `insert into des_containers (container_id, shard, source, bucket, key, size, file_count,
       data_bytes, first_name, last_name, etag, state, committed_at)
     select lpad(to_hex(g), 32, '0'), g % 16, 'bench', 'des-archive',
            'containers/' || lpad(to_hex(g), 32, '0') || '.des', 1048576, 1000, 1000000,
            to_hex(g % 16) || '-' || lpad(to_hex(g), 12, '0') || 'a',
            to_hex(g % 16) || '-' || lpad(to_hex(g), 12, '0') || 'z',
            '"' || md5(g::text) || '"', 'committed', now()
       from generate_series(1, $1::int) as g`,
    [n],
  );
  const dir = await Deno.makeTempDir({ prefix: "des-scale-bench-" });
  const port = freePort();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      `${ROOT}retriever/main.ts`,
      "--range",
      "0-15",
      "--no-register",
      "--port",
      String(port),
    ],
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DES_DATABASE_URL: url,
      DES_SHARD_BITS: String(SHARD_BITS),
      DES_STORE_ROOT: `${dir}/store`,
      DES_KV_PATH: `${dir}/index.kv`,
      DES_LOG_LEVEL: "warn",
    },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, child);
    const ms = performance.now() - t0;
    const rssMiB = await rssOf(child.pid);
    const loaded = async () => {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(/^des_retriever_catalog_containers (\d+)/m.exec(metrics)?.[1] ?? NaN);
    };
    const deadline = Date.now() + 600_000;
    while (await loaded() < n) {
      if (Date.now() > deadline) throw new Error(`the retriever loaded ${await loaded()} of ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const fullMs = performance.now() - t0;
    return { containers: n, ms, rssMiB, fullMs, fullRssMiB: await rssOf(child.pid) };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** An archive of `n` files of 32 bytes in containers of at most 62,500 files. */
async function readsWith(db: Db, n: number, readCount: number) {
  const store = new MemoryObjectStore();
  const generator = new NameGenerator({ ...FORMAT, nodeId: 3 });
  const byShard = new Map<number, string[]>();
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = generator.next();
    names.push(name);
    const shard = shardOf(name, FORMAT);
    let list = byShard.get(shard);
    if (!list) byShard.set(shard, list = []);
    list.push(name);
  }
  const body = new Uint8Array(32);
  let containers = 0;
  for (const [shard, list] of byShard) {
    list.sort();
    for (let at = 0; at < list.length; at += 62_500) {
      const part = list.slice(at, at + 62_500);
      const containerId = crypto.randomUUID().replaceAll("-", "");
      const key = `c/${containerId}.des`;
      const writer = await DesWriter.create(await store.createWriter(key), { shard, containerId });
      for (const name of part) await writer.add(name, body);
      const summary = await writer.finish();
      const info = (await store.head(key))!;
      await createContainer(db, { containerId, shard, source: "bench", bucket: "b", key });
      await setContainerState(db, containerId, "building", "uploaded", {
        size: summary.size,
        etag: info.etag,
      });
      await setContainerState(db, containerId, "uploaded", "verified", {
        fileCount: summary.entryCount,
        firstName: summary.firstName,
        lastName: summary.lastName,
      });
      await setContainerState(db, containerId, "verified", "committed");
      containers++;
    }
  }
  const retriever = await Retriever.start({
    id: "scale",
    range: { start: 0, end: 15 },
    nameFormat: FORMAT,
    db,
    storeFor: () => store,
    readinessBucket: "b",
    catalogRefreshMs: 0,
    maxCacheBytes: 1024 ** 3,
    log: new Logger("retriever", { level: "warn" }),
  });
  try {
    const read = async (name: string) => {
      const res = await retriever.handle(new Request(`http://des/files/${name}`));
      if (res.status !== 200) throw new Error(`${name}: ${res.status}`);
      await res.arrayBuffer();
    };
    // Open every container (index into memory), then time warm-index reads of random names.
    for (const list of byShard.values()) {
      for (let at = 0; at < list.length; at += 62_500) await read(list[at]);
    }
    const tailBytes = Number(
      /^des_retriever_cached_index_bytes (\d+)/m.exec(retriever.metrics.registry.render())?.[1],
    );
    const micros: number[] = [];
    for (let i = 0; i < readCount; i++) {
      const name = names[Math.floor(Math.random() * names.length)];
      const t0 = performance.now();
      await read(name);
      micros.push((performance.now() - t0) * 1000);
    }
    return {
      files: n,
      containers,
      p50us: percentile(micros, 50),
      p99us: percentile(micros, 99),
      tailBytesPerFile: tailBytes / n,
    };
  } finally {
    await retriever.close();
  }
}

/** Growth of `b` over `a` as sizes grow by `factor`: flat, log, or linear. */
function growth(a: number, b: number, factor: number): string {
  const r = b / a;
  if (r < 1.5) return "flat";
  if (r < 0.25 * factor) return "log";
  return "linear";
}

/** Printable lines and figures. */
export function scaleReport(r: ScaleBenchResult): { lines: string[]; figures: Figure[] } {
  const [s0, s1] = r.startup;
  const [r0, r1] = r.reads;
  const sf = s1.containers / s0.containers;
  const rf = r1.files / r0.files;
  const figures: Figure[] = [
    {
      suite: "scale",
      name: `retriever start-up, ${count(s1.containers)} vs ${count(s0.containers)} containers`,
      des: `${s1.ms.toFixed(0)} ms`,
      baseline: `${s0.ms.toFixed(0)} ms`,
      ratio: s1.ms / s0.ms,
    },
    {
      suite: "scale",
      name: `retriever whole catalog loaded, ${count(s1.containers)} vs ${count(s0.containers)}`,
      des: `${s1.fullMs.toFixed(0)} ms`,
      baseline: `${s0.fullMs.toFixed(0)} ms`,
      ratio: s1.fullMs / s0.fullMs,
    },
    {
      suite: "scale",
      name: `retriever RSS, whole catalog, ${count(s1.containers)} vs ${count(s0.containers)}`,
      des: `${s1.fullRssMiB.toFixed(0)} MiB`,
      baseline: `${s0.fullRssMiB.toFixed(0)} MiB`,
      ratio: s1.fullRssMiB / s0.fullRssMiB,
    },
    {
      suite: "scale",
      name: `warm-index read p50, ${count(r1.files)} vs ${count(r0.files)} files`,
      des: `${r1.p50us.toFixed(0)} µs`,
      baseline: `${r0.p50us.toFixed(0)} µs`,
      ratio: r1.p50us / r0.p50us,
    },
  ];
  const lines = [
    `start-up (ready / whole catalog loaded): ${
      r.startup.map((s) =>
        `${count(s.containers)} containers ${s.ms.toFixed(0)} / ${s.fullMs.toFixed(0)} ms, ` +
        `RSS ${s.rssMiB.toFixed(0)} / ${s.fullRssMiB.toFixed(0)} MiB`
      ).join("; ")
    }`,
    `  growth over ${sf}× containers: ready ${growth(s0.ms, s1.ms, sf)}, whole catalog ${
      growth(s0.fullMs, s1.fullMs, sf)
    }, RSS ${growth(s0.fullRssMiB, s1.fullRssMiB, sf)}`,
    `warm-index reads (in process, byte cache off): ${
      r.reads.map((x) =>
        `${count(x.files)} files in ${x.containers} containers p50 ${x.p50us.toFixed(0)} µs p99 ${
          x.p99us.toFixed(0)
        } µs`
      ).join("; ")
    }`,
    `  growth over ${rf}× files: p50 ${growth(r0.p50us, r1.p50us, rf)}`,
    `RAM per cached index entry: ${
      r.reads.map((x) =>
        `${count(x.files)} files: ${x.tailBytesPerFile.toFixed(0)} B of container tail`
      ).join("; ")
    }`,
  ];
  return { lines, figures };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false } },
  });
  const result = await runScaleBench(
    values.quick ? { containers: [100, 1000], files: [1000, 10_000], reads: 2000 } : {},
  );
  console.log(scaleReport(result).lines.join("\n"));
}
