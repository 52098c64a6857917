/**
 * `deno task demo`: DES end to end on one machine with no services. It
 * creates a sample parent system (an embedded catalog table and a few
 * thousand files on disk), marks the old rows, packs them into containers,
 * starts the all-in-one server, checks its own curl commands byte for byte,
 * explains what happened, prints the commands and serves until Ctrl-C
 * (`--check`: exit after the checks, printing no commands).
 *
 * Everything lives under `.des/demo/` and is recreated on every run. Names
 * come from a fixed clock and the sample's contents from its row numbers, so
 * the same `--files` gives the same names and ETags on every run: curl lines
 * from an earlier run keep working.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { loadConfig } from "../core/config.ts";
import { Logger } from "../core/log.ts";
import { openDb } from "../db/open_db.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { loadGatewaySettings } from "../gateway/gateway_config.ts";
import { type AllInOne, startAllInOne } from "./all_in_one.ts";
import { assertPortFree, DemoPortBusyError, denoCommand } from "./demo_commands.ts";
import { type DemoFile, writeDemoParent } from "./demo_parent.ts";
import { countObjects, summarize } from "./demo_summary.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    check: { type: "boolean", default: false },
    port: { type: "string", default: "8080" },
    files: { type: "string", default: "3000" },
    dir: { type: "string", default: ".des/demo" },
  },
});

/** Few shards, so that the sample fills a handful of containers rather than 256 tiny ones. */
const DEMO_SHARD_BITS = 4;
/** The name generator's clock: fixed, so that the fixed sample gets the same names every run. */
const DEMO_NAME_CLOCK_MS = Date.UTC(2025, 0, 1);
const HOST = "127.0.0.1";
const deno = denoCommand();
const usageError = (message: string): never => {
  console.error(`demo: ${message}`);
  Deno.exit(2);
};
const port = Number(values.port);
if (!/^\d+$/.test(values.port) || port > 65535) {
  usageError(`--port must be 0..65535, got ${values.port}`);
}
const fileCount = Number(values.files);
if (!/^\d+$/.test(values.files) || fileCount < 1 || fileCount > 1_000_000) {
  usageError(`--files must be 1..1000000, got ${values.files}`);
}
try {
  assertPortFree(HOST, port, `${deno} task demo --port ${port === 65535 ? 8081 : port + 1}`);
} catch (error) {
  if (error instanceof DemoPortBusyError) usageError(error.message);
  throw error;
}

const dir = resolve(values.dir);
await Deno.remove(dir, { recursive: true }).catch(() => {});
await Deno.mkdir(dir, { recursive: true });

const env = new Map<string, string>([
  ["DES_DATABASE_URL", `embedded:${join(dir, "metadata")}`],
  ["DES_STORE_ROOT", join(dir, "store")],
  ["DES_KV_PATH", join(dir, "index-cache.kv")],
  ["DES_PACKER_WORKDIR", join(dir, "work")],
  ["DES_BIG_FILE_THRESHOLD", "1MiB"],
  ["DES_SHARD_BITS", String(DEMO_SHARD_BITS)],
  // One batch for the whole sample: names are handed out in one pass, in row order.
  ["DES_MARKER_BATCH_SIZE", String(fileCount + 1)],
  ["DES_DEMO_PARENT_DSN", `embedded:${join(dir, "parent")}`],
  ["DES_LOG_LEVEL", "warn"],
]);
const envSource = { get: (name: string) => env.get(name) ?? Deno.env.get(name) };
const step = (text: string) => console.log(`\n▶ ${text}`);

step(`creating a sample parent system in ${dir}`);
const parentDb = await openDb(env.get("DES_DEMO_PARENT_DSN")!);
const files = await writeDemoParent(parentDb, dir, fileCount);
const young = files.filter((f) => !f.old).length;
console.log(
  `  ${files.length} rows in documents (${young} younger than 30 days), files in ${dir}/originals`,
);

step("starting marker, packer, retriever and gateway (one process, embedded defaults)");
const service = await startAllInOne({
  nameClock: () => DEMO_NAME_CLOCK_MS,
  config: loadConfig(envSource),
  gateway: await loadGatewaySettings(envSource),
  sourcesPath: join(dir, "sources.yaml"),
  env: envSource,
  hostname: HOST,
  port,
  markIntervalMs: 0,
  packIntervalMs: 0,
  log: new Logger("demo", { level: "warn" }),
}).catch(async (error) => {
  await parentDb.close();
  // Taken between the check above and now.
  if (error instanceof Deno.errors.AddrInUse) {
    usageError(`port ${port} on ${HOST} was taken meanwhile; choose another with --port`);
  }
  throw error;
});
let picks: Picked[] = [];
try {
  step("marking rows older than 30 days");
  const [marked] = await service.markOnce();
  console.log(`  marked ${marked.marked} rows in ${marked.seconds.toFixed(2)} s`);
  step("packing marked files into containers");
  const packed = await service.packOnce();
  console.log(
    `  packed ${packed.files} files (${(packed.bytes / 1e6).toFixed(1)} MB) into ` +
      `${packed.containers} containers in ${packed.seconds.toFixed(2)} s`,
  );
  await service.refreshCatalog();
  const counts = await parentDb.query<{ status: string; n: number }>(
    "select status, count(*)::int as n from documents group by status order by status",
  );
  console.log(`  parent rows now: ${counts.map((c) => `${c.status} ${c.n}`).join(", ")}`);
  picks = await checkReadPath(service, parentDb, files);
  console.log(
    "\n" + summarize({
      rows: files.length,
      marked: marked.marked,
      packedFiles: packed.files,
      packedBytes: packed.bytes,
      containers: packed.containers,
      objects: await countObjects(join(dir, "store")),
      statuses: Object.fromEntries(counts.map((c) => [c.status, c.n])),
    }),
  );
} finally {
  if (values.check || picks.length === 0) {
    await service.close();
    await parentDb.close();
  }
}
if (picks.length === 0) Deno.exit(1);
if (values.check) {
  console.log(
    `\nAll checks passed. Run \`${deno} task demo\` (without --check) to try it yourself.`,
  );
  Deno.exit(0);
}
printTryIt(service.url, picks);
console.log(`\nServing on ${service.url} — press Ctrl-C to stop.`);
const stop = Promise.withResolvers<void>();
for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, stop.resolve);
await stop.promise;
await service.close();
await parentDb.close();

/** A packed row whose read was checked. */
interface Picked {
  path: string;
  des_name: string;
  des_container: string;
}

/** The commands to try while the demo serves, in the form that works for how it was started. */
function printTryIt(base: string, picks: Picked[]): void {
  const [a, , big] = picks;
  const sample = big ?? a;
  console.log(`
Try it (while this runs; the same --files gives the same names on every run):
  curl -s  ${base}/files/${a.des_name}
  curl -s  ${base}/files/${a.des_name} -H 'Range: bytes=0-99'
  curl -sI ${base}/files/${sample.des_name}
  curl -s  ${base}/files/${a.des_name}/meta
  curl -s  ${base}/metrics | grep des_
  curl -s  ${base}/openapi.json | head -c 300
  curl -s  -X POST ${base}/names -H 'content-type: application/json' -d '{"count":3}'
Inspect the archive (from this directory, in another terminal):
  ${deno} task des ls ${a.des_container.replace(/^file:\/\//, "")} | head`);
}

/**
 * Read a few archived files through the gateway and compare them with the
 * originals; returns them when every check passed, `[]` otherwise.
 */
async function checkReadPath(
  service: AllInOne,
  parent: { query<T>(sql: string, params?: unknown[]): Promise<T[]> },
  all: DemoFile[],
): Promise<Picked[]> {
  const rows = await parent.query<Picked>(
    "select path, des_name, des_container from documents where status = 'packed' " +
      "order by size_bytes desc limit 1",
  );
  const small = await parent.query<Picked>(
    "select path, des_name, des_container from documents where status = 'packed' " +
      "and content_type like 'text/%' order by id limit 2",
  );
  const picks = [...small, ...rows];
  if (picks.length === 0) {
    console.error("no packed rows: the demo failed");
    return [];
  }
  const byPath = new Map(all.map((f) => [f.path, f]));
  const base = service.url;
  let failures = 0;
  const check = (label: string, good: boolean) => {
    console.log(`  ${good ? "✓" : "✗"} ${label}`);
    if (!good) failures++;
  };
  step("checking the read path through the gateway");
  for (const row of picks) {
    const original = await Deno.readFile(join(dir, "originals", row.path));
    const full = await fetch(`${base}/files/${row.des_name}`);
    const body = new Uint8Array(await full.arrayBuffer());
    check(
      `GET ${row.des_name} (${row.path}, ${original.byteLength} bytes) = original`,
      full.status === 200 && equalBytes(body, original),
    );
    const part = await fetch(`${base}/files/${row.des_name}`, { headers: { range: "bytes=0-99" } });
    const partBody = new Uint8Array(await part.arrayBuffer());
    check(
      `Range bytes=0-99 → 206, ${partBody.byteLength} bytes`,
      part.status === 206 && equalBytes(partBody, original.subarray(0, 100)),
    );
    const etag = full.headers.get("etag") ?? "";
    const cached = await fetch(`${base}/files/${row.des_name}`, {
      headers: { "if-none-match": etag },
    });
    await cached.body?.cancel();
    check(`If-None-Match ${etag.slice(0, 14)}…" → 304`, cached.status === 304);
  }
  // A well-formed name that was never assigned (another node id).
  const unknownName = new NameGenerator({ nodeId: 1023, shardBits: DEMO_SHARD_BITS, prefix: "" })
    .next();
  const missing = await fetch(`${base}/files/${unknownName}`);
  await missing.body?.cancel();
  check(`GET ${unknownName} (never assigned) → 404`, missing.status === 404);
  const bad = await fetch(`${base}/files/not-a-des-name`);
  await bad.body?.cancel();
  check(`GET a malformed name → 400 problem+json`, bad.status === 400);
  if (byPath.size === 0) failures++;

  return failures === 0 ? picks : [];
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
