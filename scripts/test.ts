/**
 * `deno task test [deno test args…]`: run the test suite against real services.
 *
 * - PostgreSQL: `DES_TEST_DATABASE_URL`, or the local server at
 *   postgres://postgres@127.0.0.1:5432/postgres (started with pg_ctlcluster
 *   when it does not answer).
 * - S3: `DES_TEST_S3_*`, or a Ceph RGW started for this run with
 *   `scripts/rgw-up.sh` on free ports under `.des/rgw-test/`, wiped at the end.
 * - `DES_TEST_REQUIRE_SERVICES=1`, so no service test is silently skipped.
 *
 * Exits with `deno test`'s exit code; the last line printed is
 * `N passed, N failed` (`, N skipped` when tests were ignored).
 *
 * @module
 */

import postgres from "postgres";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const RGW_RUNS = `${ROOT}/.des/rgw-test`;
const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** Counts from `deno test`'s summary line. */
interface Summary {
  passed: number;
  failed: number;
  ignored: number;
}

function log(message: string): void {
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
async function ensureDatabase(): Promise<string | null> {
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
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("scripts/test.ts");
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
interface TestRgw {
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function startRgw(): Promise<TestRgw | null> {
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
    const match = line.match(/^(DES_TEST_S3_[A-Z_]+)=(.*)$/);
    if (match) env[match[1]] = match[2];
  }
  return { env, stop };
}

/** Copy a child's stream to ours while collecting complete lines for `onLine`. */
async function tee(
  stream: ReadableStream<Uint8Array>,
  out: { write(p: Uint8Array): Promise<number> },
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    let at = 0;
    while (at < chunk.byteLength) at += await out.write(chunk.subarray(at));
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    lines.forEach(onLine);
  }
  if (pending) onLine(pending);
}

/** Parse `ok | 12 passed (3 steps) | 0 failed | 1 ignored (3s)` (or `FAILED | …`). */
export function parseSummary(line: string): Summary | null {
  // deno-lint-ignore no-control-regex
  const plain = line.replace(/\x1b\[[0-9;]*m/g, "").trim();
  if (!/^(ok|FAILED) \|/.test(plain)) return null;
  const count = (word: string) => Number(plain.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
  return { passed: count("passed"), failed: count("failed"), ignored: count("ignored") };
}

async function runDenoTest(
  env: Record<string, string>,
): Promise<{ code: number; summary: Summary | null }> {
  const childEnv = { ...env };
  if (!Deno.stdout.isTerminal()) childEnv.NO_COLOR = "1";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--unstable-kv", ...Deno.args],
    cwd: ROOT,
    env: childEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let summary: Summary | null = null;
  const onLine = (line: string) => {
    summary = parseSummary(line) ?? summary;
  };
  await Promise.all([
    tee(child.stdout, Deno.stdout, onLine),
    tee(child.stderr, Deno.stderr, onLine),
  ]);
  const { code } = await child.status;
  return { code, summary };
}

function summaryLine(summary: Summary): string {
  const base = `${summary.passed} passed, ${summary.failed} failed`;
  return summary.ignored > 0 ? `${base}, ${summary.ignored} skipped` : base;
}

async function main(): Promise<number> {
  const env: Record<string, string> = { DES_TEST_REQUIRE_SERVICES: "1" };
  const databaseUrl = await ensureDatabase();
  if (!databaseUrl) {
    console.log("0 passed, 1 failed");
    return 1;
  }
  env.DES_TEST_DATABASE_URL = databaseUrl;

  let rgw: TestRgw | null = null;
  const stopRgw = async () => {
    const running = rgw;
    rgw = null;
    await running?.stop();
  };
  const onSignal = (signal: Deno.Signal, code: number) => () => {
    log(`${signal}: stopping`);
    stopRgw().finally(() => Deno.exit(code));
  };
  Deno.addSignalListener("SIGINT", onSignal("SIGINT", 130));
  Deno.addSignalListener("SIGTERM", onSignal("SIGTERM", 143));

  if (!Deno.env.get("DES_TEST_S3_ENDPOINT")) {
    rgw = await startRgw();
    if (!rgw) {
      console.log("0 passed, 1 failed");
      return 1;
    }
    Object.assign(env, (rgw as TestRgw).env);
  }

  let result: { code: number; summary: Summary | null };
  try {
    result = await runDenoTest(env);
  } finally {
    await stopRgw();
  }
  if (result.summary) {
    console.log(summaryLine(result.summary));
  } else {
    console.error(`deno test printed no summary (exit code ${result.code}); counting one failure`);
    console.log("0 passed, 1 failed");
  }
  return result.code === 0 && !result.summary ? 1 : result.code;
}

if (import.meta.main) Deno.exit(await main());
