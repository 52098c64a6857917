/**
 * Hot reads of `deno task serve` (embedded defaults: PGlite metadata DB,
 * filesystem store, Deno KV, byte cache at its default size) against nginx
 * serving the same original files from disk. Both are driven by `wrk` with
 * the same connections, each request naming the next of N files in turn.
 *
 * The archive is built in this process (a parent table of N files of 4 KiB,
 * marked and packed by the all-in-one service), then `serve/main.ts` runs
 * as a child on it, optionally under `--cpu-prof`. A third side is the
 * floor: `bench/hello_server.ts`, `Deno.serve` answering a fixed 4 KiB body
 * with no work at all, measured the same way in the same rounds.
 *
 * Run alone: `deno run -A --unstable-kv bench/serve_bench.ts [--files 2000]
 * [--connections 32] [--seconds 10] [--profile DIR]`.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../core/config.ts";
import { Logger } from "../core/log.ts";
import { openDb } from "../db/open_db.ts";
import { loadGatewaySettings } from "../gateway/gateway_config.ts";
import { startAllInOne } from "../serve/all_in_one.ts";
import { createDocumentsTable, demoSourcesYaml } from "../serve/demo_parent.ts";
import {
  cpuMillisOf,
  cpuMillisOfTree,
  ensureHttpTools,
  runWrk,
  startDenoService,
  startNginx,
  type WrkResult,
} from "./http_tools.ts";
import { profileClockMicros, type ProfileWindow } from "./profile_stages.ts";

/** Options of {@linkcode runServeBench}. */
export interface ServeBenchOptions {
  /** Distinct files (default 2000). */
  files?: number;
  /** File size (default 4096). */
  fileBytes?: number;
  /** wrk connections (default 32). */
  connections?: number;
  /** Seconds per measured run (default 10). */
  seconds?: number;
  /** Alternating rounds; the best of each side is reported (default 2). */
  rounds?: number;
  /** Write a CPU profile of the serve process into this directory. */
  profileDir?: string;
  /**
   * Put the parent table and the metadata DB on this PostgreSQL server (a
   * database made for the run) instead of the embedded engine, whose first
   * start costs tens of seconds here: for `--quick`.
   */
  postgresUrl?: string;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
}

/** One side of the comparison. */
export interface ServeSide extends WrkResult {
  /** CPU milliseconds per request of the server process(es). */
  cpuMsPerRequest: number;
}

/** What {@linkcode runServeBench} measured. */
export interface ServeBenchResult {
  /** Files, size, connections, seconds. */
  params: { files: number; fileBytes: number; connections: number; seconds: number };
  /** nginx serving the originals. */
  nginx: ServeSide;
  /** `deno task serve`. */
  serve: ServeSide;
  /** `Deno.serve` answering a fixed body: the HTTP server's own cost (the floor). */
  floor: ServeSide;
  /** The `.cpuprofile` written, when asked for. */
  profile?: string;
  /** Requests and window of the last measured serve run (what the profile is read for). */
  lastServe: { requests: number; window: ProfileWindow; cpuMicrosPerRequest: number };
}

const ROOT = new URL("..", import.meta.url).pathname;
const SHARD_BITS = 4;

/** Build the archive, measure nginx and serve alternately, clean up. */
export async function runServeBench(options: ServeBenchOptions = {}): Promise<ServeBenchResult> {
  const files = options.files ?? 2000;
  const fileBytes = options.fileBytes ?? 4096;
  const connections = options.connections ?? 32;
  const seconds = options.seconds ?? 10;
  const rounds = options.rounds ?? 2;
  const say = options.progress ?? ((l: string) => console.error(l));
  await ensureHttpTools(say);
  const dir = await Deno.makeTempDir({ prefix: "des-serve-bench-" });
  const stops: (() => Promise<void>)[] = [];
  try {
    say(`serve bench: building an archive of ${files} files × ${fileBytes} B`);
    let databaseUrl: string | undefined;
    if (options.postgresUrl) {
      const admin = await openDb(options.postgresUrl, { max: 1 });
      const name = `des_serve_bench_${Date.now().toString(36)}${Deno.pid}`;
      await admin.exec(`create database ${name}`);
      stops.push(async () => {
        await admin.exec(`drop database if exists ${name} with (force)`);
        await admin.close();
      });
      databaseUrl = Object.assign(new URL(options.postgresUrl), { pathname: `/${name}` }).href;
    }
    const { env, names, paths } = await buildArchive(dir, files, fileBytes, databaseUrl);
    const nginx = await startNginx(join(dir, "originals"), dir);
    stops.push(nginx.stop);
    const nginxPid = Number((await Deno.readTextFile(join(dir, "nginx.pid"))).trim());
    const serve = await startServe(dir, env, options.profileDir);
    stops.push(serve.stop);
    const floor = await startDenoService(`${ROOT}bench/hello_server.ts`, [
      "--bytes",
      String(fileBytes),
    ]);
    stops.push(floor.stop);
    const desBase = `http://127.0.0.1:${serve.port}`;
    const nginxBase = `http://127.0.0.1:${nginx.port}`;
    say("serve bench: warming up (every name twice; checking bytes)");
    await warm(desBase, names.map((n) => `/files/${n}`), paths, dir);
    await warm(nginxBase, paths, paths, dir);
    let best: { nginx?: ServeSide; serve?: ServeSide; floor?: ServeSide } = {};
    let lastServe = { requests: 0, window: { from: 0, to: 0 }, cpuMicrosPerRequest: 0 };
    for (let r = 0; r < rounds; r++) {
      say(`serve bench: round ${r + 1}/${rounds}: nginx, serve, floor (${seconds} s each)`);
      const n = await measure(nginxBase, paths, () => cpuMillisOfTree(nginxPid), {
        connections,
        seconds,
        dir,
      });
      const from = profileClockMicros();
      const s = await measure(
        desBase,
        names.map((x) => `/files/${x}`),
        () => cpuMillisOf(serve.pid),
        { connections, seconds, dir },
      );
      lastServe = {
        requests: s.requests,
        window: { from, to: profileClockMicros() },
        cpuMicrosPerRequest: s.cpuMsPerRequest * 1000,
      };
      const f = await measure(
        `http://127.0.0.1:${floor.port}`,
        names.map((x) => `/files/${x}`),
        () => cpuMillisOf(floor.pid),
        { connections, seconds, dir },
      );
      best = {
        nginx: !best.nginx || n.rps > best.nginx.rps ? n : best.nginx,
        serve: !best.serve || s.rps > best.serve.rps ? s : best.serve,
        floor: !best.floor || f.rps > best.floor.rps ? f : best.floor,
      };
    }
    // Stopped before the result is read: the profile is written at exit (stop is idempotent).
    await serve.stop();
    await floor.stop();
    return {
      params: { files, fileBytes, connections, seconds },
      nginx: best.nginx!,
      serve: best.serve!,
      floor: best.floor!,
      profile: options.profileDir ? await newestProfile(options.profileDir) : undefined,
      lastServe,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function measure(
  base: string,
  paths: string[],
  cpu: () => number,
  options: { connections: number; seconds: number; dir: string },
): Promise<ServeSide> {
  const before = cpu();
  const result = await runWrk(base, paths, options);
  const after = cpu();
  return { ...result, cpuMsPerRequest: (after - before) / Math.max(1, result.requests) };
}

/** A parent table of `count` files of `size` bytes, marked and packed by the all-in-one service. */
async function buildArchive(dir: string, count: number, size: number, databaseUrl?: string) {
  const originals = join(dir, "originals");
  const env: Record<string, string> = {
    DES_DATABASE_URL: databaseUrl ?? `embedded:${join(dir, "metadata")}`,
    DES_STORE_ROOT: join(dir, "store"),
    DES_KV_PATH: join(dir, "index-cache.kv"),
    DES_PACKER_WORKDIR: join(dir, "work"),
    DES_SHARD_BITS: String(SHARD_BITS),
    DES_BENCH_PARENT_DSN: databaseUrl ?? `embedded:${join(dir, "parent")}`,
  };
  const parent = await openDb(env.DES_BENCH_PARENT_DSN);
  const paths: string[] = [];
  try {
    await createDocumentsTable(parent);
    const created = new Date(Date.now() - 60 * 86_400_000).toISOString();
    const rows: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const path = `d${String(i % 50).padStart(2, "0")}/file-${String(i).padStart(6, "0")}.bin`;
      const bytes = new Uint8Array(size);
      crypto.getRandomValues(bytes);
      await Deno.mkdir(join(originals, path, ".."), { recursive: true });
      await Deno.writeFile(join(originals, path), bytes);
      paths.push(`/${path}`);
      rows.push(path, created, size, "application/octet-stream");
    }
    for (let i = 0; i < count; i += 500) {
      const n = Math.min(500, count - i);
      const values = Array.from(
        { length: n },
        (_, r) => `($${r * 4 + 1}, $${r * 4 + 2}::timestamptz, $${r * 4 + 3}, $${r * 4 + 4})`,
      ).join(", ");
      await parent.query(
        `insert into documents (path, created_at, size_bytes, content_type) values ${values}`,
        rows.slice(i * 4, (i + n) * 4),
      );
    }
    await Deno.writeTextFile(
      join(dir, "sources.yaml"),
      demoSourcesYaml(originals).replace("DES_DEMO_PARENT_DSN", "DES_BENCH_PARENT_DSN"),
    );
  } finally {
    await parent.close();
  }
  const source = { get: (name: string) => env[name] ?? Deno.env.get(name) };
  const service = await startAllInOne({
    config: loadConfig(source),
    gateway: await loadGatewaySettings(source),
    sourcesPath: join(dir, "sources.yaml"),
    env: source,
    hostname: "127.0.0.1",
    port: 0,
    markIntervalMs: 0,
    packIntervalMs: 0,
    log: new Logger("bench", { level: "error" }),
  });
  try {
    await service.markOnce();
    const packed = await service.packOnce();
    if (packed.files !== count) throw new Error(`packed ${packed.files} of ${count} files`);
  } finally {
    await service.close();
  }
  const again = await openDb(env.DES_BENCH_PARENT_DSN);
  try {
    const byPath = new Map(
      (await again.query<{ path: string; des_name: string }>(
        "select path, des_name from documents where status = 'packed'",
      )).map((r) => [`/${r.path}`, r.des_name]),
    );
    return { env, paths, names: paths.map((p) => byPath.get(p)!) };
  } finally {
    await again.close();
  }
}

/** `deno task serve` on the archive, loops off, defaults otherwise. */
function startServe(dir: string, env: Record<string, string>, profileDir?: string) {
  return startDenoService(`${ROOT}serve/main.ts`, [
    "--sources",
    join(dir, "sources.yaml"),
    "--mark-interval",
    "0",
    "--pack-interval",
    "0",
  ], {
    cwd: dir,
    env: { ...env, PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/root" },
    // The access log is part of the cost measured (as nginx's is); it goes nowhere.
    stderr: "null",
    profileDir,
  });
}

/** Read every path twice (the byte cache admits on the second miss); check bytes of a sample. */
async function warm(base: string, paths: string[], originals: string[], dir: string) {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < paths.length; i += 32) {
      await Promise.all(
        paths.slice(i, i + 32).map(async (p, k) => {
          const res = await fetch(base + p);
          const body = new Uint8Array(await res.arrayBuffer());
          if (res.status !== 200) throw new Error(`${base}${p}: ${res.status}`);
          if ((i + k) % 97 === 0) {
            const want = await Deno.readFile(join(dir, "originals", originals[i + k]));
            if (want.length !== body.length || want.some((b, j) => b !== body[j])) {
              throw new Error(`${base}${p}: wrong bytes`);
            }
          }
        }),
      );
    }
  }
}

async function newestProfile(dir: string): Promise<string | undefined> {
  let newest: { path: string; mtime: number } | undefined;
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    const path = join(dir, e.name);
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    if (!newest || mtime > newest.mtime) newest = { path, mtime };
  }
  return newest?.path;
}

/** Printable lines of a result. */
export function formatServeResult(r: ServeBenchResult): string[] {
  const row = (label: string, s: ServeSide) =>
    `  ${label.padEnd(22)} ${s.rps.toFixed(0).padStart(6)} req/s  p50 ${s.p50.toFixed(2)} ms  p99 ${
      s.p99.toFixed(2)
    } ms  ${s.errors} errors  server CPU ${(s.cpuMsPerRequest * 1000).toFixed(0)} µs/req`;
  return [
    `hot reads, ${r.params.files} names × ${r.params.fileBytes} B, wrk ${r.params.connections} connections, ${r.params.seconds} s (best of rounds):`,
    row("nginx (original files)", r.nginx),
    row("deno task serve", r.serve),
    row("floor: Deno.serve alone", r.floor),
    `  serve / nginx: ${(r.serve.rps / r.nginx.rps).toFixed(2)}× req/s (goal ≥ 0.5×); ` +
    `floor / nginx: ${(r.floor.rps / r.nginx.rps).toFixed(2)}×; serve CPU above the floor: ${
      ((r.serve.cpuMsPerRequest - r.floor.cpuMsPerRequest) * 1000).toFixed(0)
    } µs/req`,
    ...(r.profile ? [`  CPU profile: ${r.profile}`] : []),
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      files: { type: "string", default: "2000" },
      connections: { type: "string", default: "32" },
      seconds: { type: "string", default: "10" },
      rounds: { type: "string", default: "2" },
      profile: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const result = await runServeBench({
    files: Number(values.files),
    connections: Number(values.connections),
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    profileDir: values.profile,
  });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatServeResult(result).join("\n"));
}
