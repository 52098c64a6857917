/**
 * `deno task test [deno test args…]`: run the test suite against real services.
 *
 * - PostgreSQL: `DES_TEST_DATABASE_URL`, or the local server at
 *   postgres://postgres@127.0.0.1:5432/postgres (started with pg_ctlcluster
 *   when it does not answer).
 * - S3: `DES_TEST_S3_*`, or a Ceph RGW started for this run with
 *   `scripts/rgw-up.sh` on free ports under `.des/rgw-test/`, wiped at the end.
 * - `DES_TEST_REQUIRE_SERVICES=1`, so no service test is silently skipped.
 * - `DES_TEST_EMBEDDED_TEMPLATE`: a path in a temp directory of this run
 *   where the first test file that needs one leaves an empty embedded
 *   database for all others to copy (initdb costs seconds of CPU per file).
 *
 * Exits with `deno test`'s exit code; the last line printed is
 * `N passed, N failed` (`, N skipped` when tests were ignored).
 *
 * @module
 */

import { ensureDatabase, log, startRgw, type TestRgw } from "./services.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Counts from `deno test`'s summary line. */
interface Summary {
  passed: number;
  failed: number;
  ignored: number;
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

  const runDir = await Deno.makeTempDir({ prefix: "des-test-run-" });
  env.DES_TEST_EMBEDDED_TEMPLATE = `${runDir}/embedded-template`;
  let result: { code: number; summary: Summary | null };
  try {
    result = await runDenoTest(env);
  } finally {
    await Deno.remove(runDir, { recursive: true });
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
