/**
 * Read-path benchmark: 4 KiB files, N concurrent clients, one S3 server.
 *
 * - **direct** (baseline): `GetObject` of the same bytes stored as individual
 *   S3 objects, AWS SDK;
 * - **warm index**: HTTP GET through `gateway/main.ts` → `retriever/main.ts`
 *   (separate processes, byte cache off) → one Range GET on a DES container;
 * - **hot**: the same with the retriever's default byte cache and the
 *   gateway's byte tier (`DES_GATEWAY_CACHE_BYTES`), warmed (every file read
 *   twice), so no S3 request and no hop to the retriever at all;
 * - **range floor**: the baseline's client (AWS SDK) asking S3 for the same
 *   bytes where the warm path finds them, a Range GET inside their container:
 *   what S3 itself charges for the read the warm path must make, before any
 *   DES process is involved.
 *
 * Reports req/s and p50/p99 latency of each, their ratios to the baseline,
 * and the S3 requests per read each retriever made during its run (from its
 * `/metrics`). Needs PostgreSQL (`DES_TEST_DATABASE_URL`, default
 * `postgres://postgres@127.0.0.1:5432/postgres`) and S3 (`DES_TEST_S3_*`).
 *
 * Run alone: `deno run -A bench/read_bench.ts [--files 2000] [--clients 32]
 * [--seconds 10] [--detail] [--profile DIR] [--access-log]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GetObjectCommand, type GetObjectCommandInput } from "@aws-sdk/client-s3";
import { migrate } from "../db/migrate.ts";
import { openDb } from "../db/open_db.ts";
import { createContainer, setContainerState } from "../db/containers.ts";
import { DesReader } from "../format/reader.ts";
import { DesWriter } from "../format/writer.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { shardOf } from "../naming/mod.ts";
import { readAll } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { S3ObjectStore } from "../store/s3.ts";
import { S3FetchGetStore } from "../retriever/s3_fetch_store.ts";
import { percentile } from "./stats.ts";
import { cpuMillisOf, type DenoService, startDenoService } from "./http_tools.ts";
import { profileClockMicros, type ProfileWindow } from "./profile_stages.ts";

/** Options of {@linkcode runReadBench}. */
export interface ReadBenchOptions {
  /** Number of distinct files (default 2000). */
  files?: number;
  /** File size in bytes (default 4096). */
  fileBytes?: number;
  /** Concurrent clients (default 32). */
  clients?: number;
  /** Measured seconds per path (default 10). */
  seconds?: number;
  /** Also measure the paths that explain the split (signed fetch, no gateway, in-process). */
  detail?: boolean;
  /** Write CPU profiles of the gateways and retrievers into this directory. */
  profileDir?: string;
  /** Log level of the gateway and retriever (default `warn`: no per-request access lines). */
  logLevel?: "info" | "warn";
  /** Progress lines go here (default: stderr). */
  progress?: (line: string) => void;
}

/** Throughput and latency of one path. */
export interface PathResult {
  /** Requests completed. */
  requests: number;
  /** Requests per second. */
  rps: number;
  /** Median latency, ms. */
  p50: number;
  /** 99th percentile latency, ms. */
  p99: number;
  /** Responses that were not the expected bytes. */
  errors: number;
  /** CPU milliseconds per request spent by each process involved (client, gateway, rgw, …). */
  cpuMsPerRequest: Record<string, number>;
  /** Retriever S3 requests per read during the run (from its `/metrics`), when measured. */
  s3PerRead?: number;
  /** When the run took place, on the CPU profiles' clock. */
  window: ProfileWindow;
}

/** What {@linkcode runReadBench} measured. */
export interface ReadBenchResult {
  /** Parameters. */
  files: number;
  /** File size. */
  fileBytes: number;
  /** Concurrent clients. */
  clients: number;
  /** Seconds per path. */
  seconds: number;
  /** Direct S3 GetObject of single objects (AWS SDK): the baseline. */
  direct: PathResult;
  /** Gateway → retriever → S3, byte cache off: every read one Range GET (warm index). */
  warm: PathResult;
  /** Gateway → retriever with a warm byte cache: no S3 request. */
  hot: PathResult;
  /** Direct Range GET of each file's bytes inside its container (AWS SDK): S3's own floor. */
  rangeFloor: PathResult;
  /** Paths that explain the split (with `detail`). */
  detail?: {
    /** Direct S3 GET by signed `fetch` (the client the retriever uses). */
    directFetch: PathResult;
    /** Retriever → S3 without the gateway, byte cache off. */
    retriever: PathResult;
    /** Gateway with an in-process retriever (`--in-process`), byte cache off. */
    inProcess: PathResult;
  };
  /** CPU profiles written (label → path), with `profileDir`. */
  profiles: Record<string, string>;
}

const ROOT = new URL("..", import.meta.url).pathname;
const SHARD_BITS = 4;
/** Byte tier of the hot path's gateway: every file of the default run fits. */
const HOT_GATEWAY_CACHE = "32MiB";

/** Run the benchmark once and clean up (database, bucket, processes). */
export async function runReadBench(options: ReadBenchOptions = {}): Promise<ReadBenchResult> {
  const files = options.files ?? 2000;
  const fileBytes = options.fileBytes ?? 4096;
  const clients = options.clients ?? 32;
  const seconds = options.seconds ?? 10;
  const say = options.progress ?? ((l: string) => console.error(l));
  const s3 = s3Settings();
  const adminUrl = Deno.env.get("DES_TEST_DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const suffix = `${Date.now().toString(36)}${
    crypto.getRandomValues(new Uint32Array(1))[0].toString(36)
  }`;
  const dbName = `des_bench_${suffix}`;
  const bucket = `des-read-bench-${suffix}`;
  const admin = await openDb(adminUrl, { max: 1 });
  await admin.exec(`create database ${dbName}`);
  const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
  const db = await openDb(dbUrl);
  const store = new S3ObjectStore({ ...s3, bucket });
  const services: DenoService[] = [];
  const kvDir = await Deno.makeTempDir({ prefix: "des-read-bench-" });
  const profiles: Record<string, string> = {};
  try {
    await migrate(db);
    await store.ensureBucket();
    say(`read bench: writing ${files} files of ${fileBytes} B as containers and as single objects`);
    const { names, places } = await writeData(db, store, bucket, files, fileBytes);
    const env = {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DES_DATABASE_URL: dbUrl,
      DES_S3_ENDPOINT: s3.endpoint,
      DES_S3_REGION: s3.region,
      DES_S3_ACCESS_KEY_ID: s3.accessKeyId,
      DES_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      DES_ARCHIVE_BUCKET: bucket,
      DES_SHARD_BITS: String(SHARD_BITS),
      DES_KV_PATH: `${kvDir}/cache.kv`,
      DES_LOG_LEVEL: options.logLevel ?? "warn",
      DES_GATEWAY_AUDIT: "false",
    };
    const profileOf = (label: string) => {
      if (!options.profileDir) return undefined;
      const dir = `${options.profileDir}/${label}`;
      profiles[label] = dir;
      return dir;
    };
    const start = async (
      script: string,
      args: string[],
      extra: Record<string, string>,
      label: string,
    ) => {
      const service = await startDenoService(`${ROOT}${script}`, args, {
        env: { ...env, ...extra },
        cwd: ROOT,
        profileDir: profileOf(label),
        stderr: "inherit",
      });
      services.push(service);
      return service;
    };
    const routesFile = async (label: string, port: number) => {
      const path = `${kvDir}/routes-${label}.yaml`;
      await Deno.writeTextFile(
        path,
        `retrievers:\n  - { id: ${label}, url: "http://127.0.0.1:${port}", range: "0-15" }\n`,
      );
      return path;
    };
    // Warm-index pair: byte caches off, so every read is one Range GET.
    const noCache = {
      DES_CACHE_MEMORY_BYTES: "0",
      DES_CACHE_DISK_BYTES: "0",
      DES_GATEWAY_CACHE_BYTES: "0",
    };
    const coldRetriever = await start(
      "retriever/main.ts",
      ["--range", "0-15", "--id", "warm", "--no-register"],
      { ...noCache, DES_KV_PATH: `${kvDir}/warm.kv` },
      "retriever-warm",
    );
    const warmGateway = await start(
      "gateway/main.ts",
      ["--routes", await routesFile("warm", coldRetriever.port)],
      noCache,
      "gateway-warm",
    );
    // Hot pair: the retriever's default byte cache, and a byte tier in the gateway.
    const hotRetriever = await start(
      "retriever/main.ts",
      ["--range", "0-15", "--id", "hot", "--no-register"],
      { DES_KV_PATH: `${kvDir}/hot.kv` },
      "retriever-hot",
    );
    const hotGateway = await start(
      "gateway/main.ts",
      ["--routes", await routesFile("hot", hotRetriever.port)],
      { DES_GATEWAY_CACHE_BYTES: HOT_GATEWAY_CACHE },
      "gateway-hot",
    );
    const single = options.detail
      ? await start("gateway/main.ts", ["--in-process"], {
        ...noCache,
        DES_KV_PATH: `${kvDir}/single.kv`,
      }, "in-process")
      : undefined;

    const httpGet = (base: string) => async (name: string) =>
      (await (await fetch(base + name)).arrayBuffer()).byteLength;
    // The baseline's client: one AWS SDK GetObject, its body read whole.
    const sdkGet = async (input: GetObjectCommandInput) => {
      const out = await store.client.send(new GetObjectCommand(input));
      return (await readAll(out.Body!.transformToWebStream() as ReadableStream<Uint8Array>))
        .byteLength;
    };
    const direct = (name: string) => sdkGet({ Bucket: bucket, Key: `direct/${name}` });
    const rangeInContainer = (name: string) => {
      const { key, offset, size } = places.get(name)!;
      return sdkGet({ Bucket: bucket, Key: key, Range: `bytes=${offset}-${offset + size - 1}` });
    };
    const lean = new S3FetchGetStore(store, { ...s3, bucket });
    const directFetch = async (name: string) =>
      (await readAll((await lean.get(`direct/${name}`)).body)).byteLength;
    const viaWarm = httpGet(`http://127.0.0.1:${warmGateway.port}/files/`);
    const viaHot = httpGet(`http://127.0.0.1:${hotGateway.port}/files/`);
    const viaRetriever = httpGet(`http://127.0.0.1:${coldRetriever.port}/files/`);
    const viaSingle = single ? httpGet(`http://127.0.0.1:${single.port}/files/`) : undefined;

    say("read bench: warming up (every file once per path, twice through the hot path)");
    await load(names, clients, 0, direct, fileBytes, names.length);
    await load(names, clients, 0, rangeInContainer, fileBytes, names.length);
    await load(names, clients, 0, viaWarm, fileBytes, names.length);
    await load(names, clients, 0, viaHot, fileBytes, 2 * names.length);
    if (viaSingle) await load(names, clients, 0, viaSingle, fileBytes, names.length);
    const storage = storagePids();
    const client = { client: Deno.pid, ...storage };
    const run = async (
      label: string,
      fn: (name: string) => Promise<number>,
      pids: Record<string, number>,
      metricsPort?: number,
    ) => {
      say(`read bench: ${label}: ${clients} clients, ${seconds} s`);
      const url = metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : undefined;
      const before = url ? await s3PerRead(url) : undefined;
      const result = await load(names, clients, seconds, fn, fileBytes, Infinity, {
        ...client,
        ...pids,
      });
      if (url && before) {
        const after = await s3PerRead(url);
        result.s3PerRead = (after.sum - before.sum) / Math.max(1, after.count - before.count);
      }
      return result;
    };
    const directResult = await run("direct S3 GetObject", direct, {});
    const rangeFloor = await run("direct S3 Range GET inside the containers", rangeInContainer, {});
    const warm = await run("gateway → retriever → S3 (warm index)", viaWarm, {
      gateway: warmGateway.child.pid,
      retriever: coldRetriever.child.pid,
    }, coldRetriever.port);
    const hot = await run("gateway → retriever (hot, byte cache)", viaHot, {
      gateway: hotGateway.child.pid,
      retriever: hotRetriever.child.pid,
    }, hotRetriever.port);
    let detail: ReadBenchResult["detail"];
    if (options.detail && viaSingle && single) {
      detail = {
        directFetch: await run("direct S3 GET (signed fetch)", directFetch, {}),
        retriever: await run("retriever → S3 (no gateway)", viaRetriever, {
          retriever: coldRetriever.child.pid,
        }, coldRetriever.port),
        inProcess: await run("gateway with in-process retriever → S3", viaSingle, {
          gateway: single.child.pid,
        }),
      };
    }
    return {
      files,
      fileBytes,
      clients,
      seconds,
      direct: directResult,
      warm,
      hot,
      rangeFloor,
      detail,
      profiles,
    };
  } finally {
    for (const service of services) await service.stop();
    await emptyBucket(store).catch(() => {});
    store.close();
    await db.close();
    await admin.exec(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.close();
    await Deno.remove(kvDir, { recursive: true });
  }
}

function s3Settings() {
  const get = (n: string) => Deno.env.get(`DES_TEST_S3_${n}`) ?? Deno.env.get(`DES_S3_${n}`) ?? "";
  const endpoint = get("ENDPOINT");
  if (!endpoint) {
    throw new Error("set DES_TEST_S3_ENDPOINT (and _ACCESS_KEY_ID, _SECRET_ACCESS_KEY)");
  }
  return {
    endpoint,
    region: get("REGION") || "us-east-1",
    accessKeyId: get("ACCESS_KEY_ID"),
    secretAccessKey: get("SECRET_ACCESS_KEY"),
  };
}

async function writeData(
  db: Awaited<ReturnType<typeof openDb>>,
  store: S3ObjectStore,
  bucket: string,
  count: number,
  size: number,
): Promise<{ names: string[]; places: Map<string, FilePlace> }> {
  const generator = new NameGenerator({ shardBits: SHARD_BITS, prefix: "", nodeId: 1 });
  const format = { shardBits: SHARD_BITS, prefix: "" };
  const byShard = new Map<number, string[]>();
  const names: string[] = [];
  const places = new Map<string, FilePlace>();
  for (let i = 0; i < count; i++) {
    const name = generator.next();
    names.push(name);
    const shard = shardOf(name, format);
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  const bytesOf = (name: string) => {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = (name.charCodeAt(i % name.length) * (i + 1)) & 0xff;
    return out;
  };
  for (const [shard, list] of byShard) {
    const containerId = crypto.randomUUID().replaceAll("-", "");
    const key = `bench/${shard}/${containerId}.des`;
    const writer = await DesWriter.create(await store.createWriter(key), { shard, containerId });
    for (const name of list.sort()) await writer.add(name, bytesOf(name));
    const summary = await writer.finish();
    const info = (await store.head(key))!;
    await createContainer(db, { containerId, shard, source: "bench", bucket, key });
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
    const reader = await DesReader.open(new StoreRangeSource(store, key));
    for (const entry of reader.entries()) {
      places.set(entry.name, { key, offset: entry.dataOffset, size: entry.size });
    }
  }
  for (let i = 0; i < names.length; i += 32) {
    await Promise.all(names.slice(i, i + 32).map((n) => store.put(`direct/${n}`, bytesOf(n))));
  }
  return { names, places };
}

/** Where a file's bytes lie in its container. */
interface FilePlace {
  key: string;
  offset: number;
  size: number;
}

/** `clients` workers issuing `fn` over `names` for `seconds` (or `total` requests when seconds = 0). */
async function load(
  names: string[],
  clients: number,
  seconds: number,
  fn: (name: string) => Promise<number>,
  expectBytes: number,
  total = Infinity,
  pids: Record<string, number> = {},
): Promise<PathResult> {
  const cpuBefore = cpuMillis(pids);
  const from = profileClockMicros();
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const end = seconds > 0 ? start + seconds * 1000 : Infinity;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end && next < total) {
      const name = names[next++ % names.length];
      const t0 = performance.now();
      try {
        if ((await fn(name)) !== expectBytes) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  const cpuAfter = cpuMillis(pids);
  const cpuMsPerRequest = Object.fromEntries(
    Object.keys(pids).map((k) => [k, (cpuAfter[k] - cpuBefore[k]) / Math.max(1, latencies.length)]),
  );
  return {
    window: { from, to: profileClockMicros() },
    cpuMsPerRequest,
    requests: latencies.length,
    rps: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

/** User + system CPU milliseconds of each process so far (from /proc). */
function cpuMillis(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([label, pid]) => [label, cpuMillisOf(pid)]));
}

/** Pids of the local Ceph RGW and OSD, when `RGW_DATA_DIR` names the rgw-up.sh directory. */
function storagePids(): Record<string, number> {
  const dir = Deno.env.get("RGW_DATA_DIR");
  const out: Record<string, number> = {};
  if (!dir) return out;
  for (const [label, file] of [["rgw", "rgw.a"], ["osd", "osd.0"]]) {
    try {
      out[label] = Number(Deno.readTextFileSync(`${dir}/pids/${file}`).trim());
    } catch { /* not local */ }
  }
  return out;
}

async function s3PerRead(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(url)).text();
  const value = (metric: string) =>
    Number(text.split("\n").find((l) => l.startsWith(`${metric} `))?.split(" ")[1] ?? 0);
  return {
    sum: value("des_retriever_s3_requests_per_read_sum"),
    count: value("des_retriever_s3_requests_per_read_count"),
  };
}

async function emptyBucket(store: S3ObjectStore): Promise<void> {
  const keys: string[] = [];
  for await (const o of store.list("")) keys.push(o.key);
  for (let i = 0; i < keys.length; i += 32) {
    await Promise.all(keys.slice(i, i + 32).map((k) => store.delete(k)));
  }
  await store.client.send(
    new (await import("@aws-sdk/client-s3")).DeleteBucketCommand({ Bucket: store.bucket }),
  );
}

/** Printable lines of a result. */
export function formatResult(r: ReadBenchResult): string {
  const row = (label: string, p: PathResult) =>
    `${label.padEnd(40)} ${p.rps.toFixed(0).padStart(5)} req/s  p50 ${p.p50.toFixed(1)} ms  p99 ${
      p.p99.toFixed(1)
    } ms  ${p.errors} errors${
      p.s3PerRead !== undefined ? `  S3/read ${p.s3PerRead.toFixed(2)}` : ""
    }  CPU ms/req: ${
      Object.entries(p.cpuMsPerRequest).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
    }`;
  const vs = (p: PathResult) =>
    `req/s ${(p.rps / r.direct.rps).toFixed(2)}×, p50 ${(p.p50 / r.direct.p50).toFixed(2)}×, p99 ${
      (p.p99 / r.direct.p99).toFixed(2)
    }×`;
  return [
    `read bench: ${r.files} files × ${r.fileBytes} B, ${r.clients} clients, ${r.seconds} s per path`,
    row("direct S3 GetObject (SDK) — baseline", r.direct),
    row("gateway → retriever → S3 (warm index)", r.warm),
    row("gateway → retriever (hot, byte cache)", r.hot),
    row("floor: direct Range GET in containers", r.rangeFloor),
    ...(r.detail
      ? [
        row("direct S3 GET (signed fetch)", r.detail.directFetch),
        row("retriever → S3 (no gateway)", r.detail.retriever),
        row("gateway+retriever, 1 process → S3", r.detail.inProcess),
      ]
      : []),
    `warm index vs direct: ${vs(r.warm)} (goal ≥ 0.8× req/s, p50 ≤ 1.2×)`,
    `hot vs direct: ${vs(r.hot)} (goal ≥ 5× req/s, p99 ≤ 0.5×)`,
    `floor (S3's Range GET inside a container) vs direct: ${vs(r.rangeFloor)}`,
    ...Object.entries(r.profiles).map(([k, v]) => `CPU profile ${k}: ${v}`),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      files: { type: "string", default: "2000" },
      clients: { type: "string", default: "32" },
      seconds: { type: "string", default: "10" },
      json: { type: "boolean", default: false },
      "access-log": { type: "boolean", default: false },
      detail: { type: "boolean", default: false },
      profile: { type: "string" },
    },
  });
  const result = await runReadBench({
    files: Number(values.files),
    clients: Number(values.clients),
    seconds: Number(values.seconds),
    detail: values.detail,
    profileDir: values.profile,
    logLevel: values["access-log"] ? "info" : "warn",
  });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatResult(result));
}
