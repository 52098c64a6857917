/**
 * The services tests and benchmarks need: PostgreSQL (checked, started with
 * pg_ctlcluster when installed but down) and a throw-away Ceph RGW started
 * with `scripts/rgw-up.sh` on free loopback ports.
 *
 * @module
 */

import postgres from "postgres";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const RGW_RUNS = `${ROOT}/.des/rgw-test`;
const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export function log(message: string): void {
  console.error(`[test] ${message}`);
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "inherit" })
    .output();
  return { ok: out.success, code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

async function postgresAnswers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

async function startLocalPostgres(): Promise<void> {
  let versions: string[] = [];
  try {
    versions = (await Array.fromAsync(Deno.readDir("/etc/postgresql"))).map((e) => e.name);
  } catch { /* not installed */ }
  for (const version of versions) {
    log(
      `starting PostgreSQL ${version}: pg_ctlcluster --skip-systemctl-redirect ${version} main start`,
    );
    await run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"])
      .catch(() => null);
  }
}

/** The database URL for tests, starting the local server if needed; `null` when unreachable. */
export async function ensureDatabase(): Promise<string | null> {
  const given = Deno.env.get("DES_TEST_DATABASE_URL");
  if (given) return given;
  if (await postgresAnswers(DEFAULT_DATABASE_URL)) return DEFAULT_DATABASE_URL;
  await startLocalPostgres();
  for (let i = 0; i < 20; i++) {
    if (await postgresAnswers(DEFAULT_DATABASE_URL)) return DEFAULT_DATABASE_URL;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.error(
    `PostgreSQL does not answer at ${DEFAULT_DATABASE_URL}.\n` +
      "Fix: start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start),\n" +
      "allow trust auth for user postgres on 127.0.0.1, or set DES_TEST_DATABASE_URL.",
  );
  return null;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function processAlive(pid: number): boolean {
  try {
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return cmdline.includes("scripts/test.ts") || cmdline.includes("bench/run.ts");
  } catch {
    return false;
  }
}

/** Wipe clusters left by earlier runs that were killed before they could clean up. */
async function wipeAbandonedClusters(): Promise<void> {
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(RGW_RUNS));
  } catch { /* none yet */ }
  for (const entry of entries) {
    const pid = Number(entry.name.match(/^run-(\d+)$/)?.[1]);
    if (pid && pid !== Deno.pid && !processAlive(pid)) {
      await run("bash", [`${ROOT}/scripts/rgw-down.sh`, `${RGW_RUNS}/${entry.name}`, "--wipe"]);
    }
  }
}

/** A running RGW for this run: its env and how to stop it. */
export interface TestRgw {
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startRgw(): Promise<TestRgw | null> {
  await wipeAbandonedClusters();
  const dir = `${RGW_RUNS}/run-${Deno.pid}`;
  await Deno.mkdir(RGW_RUNS, { recursive: true });
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(freePort());
  const [rgw, mon, monV1] = [...ports];
  const started = performance.now();
  const up = await run("bash", [`${ROOT}/scripts/rgw-up.sh`, dir], {
    RGW_PORT: String(rgw),
    RGW_MON_PORT: String(mon),
    RGW_MON_V1_PORT: String(monV1),
    RGW_AUTO_INSTALL: "1",
  });
  const stop = async () => {
    await run("bash", [`${ROOT}/scripts/rgw-down.sh`, dir, "--wipe"]);
  };
  if (!up.ok) {
    console.error(`scripts/rgw-up.sh failed (exit ${up.code}); logs are in ${dir}/log`);
    return null;
  }
  log(`Ceph RGW on port ${rgw} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const env: Record<string, string> = {};
  for (const line of up.stdout.split("\n")) {
    // RGW_DATA_DIR lets tests run radosgw-admin against this cluster (e.g. a user without bucket rights)
    const match = line.match(/^(DES_TEST_S3_[A-Z_]+|RGW_DATA_DIR)=(.*)$/);
    if (match) env[match[1]] = match[2];
  }
  return { env, stop };
}
