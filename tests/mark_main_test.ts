import { markCommand } from "../mark/main.ts";
import { DesConfigError } from "../core/errors.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "./_helpers/assert.ts";
import {
  createParentFixture,
  fixtureSourcesYaml,
  type ParentFixture,
} from "./_helpers/parent_fixture.ts";

const ROOT = new URL("..", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function markProcess(args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mark/main.ts", ...args],
    cwd: ROOT,
    env: { DES_LOG_LEVEL: "info", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function runMark(args: string[], env: Record<string, string>): Promise<Run> {
  const out = await markProcess(args, env).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function fixtureEnv(fx: ParentFixture): Record<string, string> {
  return Object.fromEntries(fx.env);
}

async function statusCounts(fx: ParentFixture): Promise<Record<string, number>> {
  const rows = await fx.db.query<{ state: string; n: number }>(
    `SELECT state, count(*)::int AS n FROM ${fx.table} GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("mark --once marks the eligible rows and prints a summary", async () => {
  const fx = await createParentFixture({ rows: 600, originals: "none" });
  try {
    const run = await runMark(["--once", "--sources", fx.sourcesPath], {
      ...fixtureEnv(fx),
      DES_MARKER_BATCH_SIZE: "100",
      DES_NODE_ID: "7",
    });
    assertEquals(run.code, 0, run.stderr);
    assertMatch(run.stdout, new RegExp(`marked fixture-docs: ${fx.eligibleIds.size} files`));
    assertMatch(run.stdout, /, 0 failed, \d+ batches/);
    assertEquals((await statusCounts(fx)).queued, fx.eligibleIds.size);
    const again = await runMark(["--once", "--sources", fx.sourcesPath], fixtureEnv(fx));
    assertEquals(again.code, 0, again.stderr);
    assertMatch(again.stdout, /marked fixture-docs: 0 files/);
  } finally {
    await fx.close();
  }
});

Deno.test("bad configuration exits 2 with the reason and writes nothing", async () => {
  const fx = await createParentFixture({ rows: 50, originals: "none" });
  try {
    const before = await statusCounts(fx);
    const yaml = await Deno.readTextFile(fx.sourcesPath);

    const unknownColumn = `${fx.dir}/unknown-column.yaml`;
    await Deno.writeTextFile(unknownColumn, yaml.replace("mime", "mime_type"));
    const r1 = await runMark(["--once", "--sources", unknownColumn], fixtureEnv(fx));
    assertEquals(r1.code, 2, r1.stderr);
    assertMatch(r1.stderr, /columns\.content_type: column "mime_type" does not exist/);
    assertMatch(r1.stderr, /"catalog"\."documents"/);
    assertMatch(r1.stderr, /the table has: doc_id, file_path/);

    const r2 = await runMark(["--once", "--sources", fx.sourcesPath], {});
    assertEquals(r2.code, 2, r2.stderr);
    assertMatch(
      r2.stderr,
      new RegExp(`environment variable ${fx.dsnEnv} \\(dsn_env\\) is not set`),
    );
    assertMatch(r2.stderr, /source "fixture-docs"/);

    const r3 = await runMark(["--once", "--interval", "5s"], fixtureEnv(fx));
    assertEquals(r3.code, 2);
    assertMatch(r3.stderr, /exclude each other/);

    const r4 = await runMark(["--once", "--sources", fx.sourcesPath], {
      ...fixtureEnv(fx),
      DES_MARKER_BATCH_SIZE: "lots",
    });
    assertEquals(r4.code, 2);
    assertMatch(r4.stderr, /DES_MARKER_BATCH_SIZE="lots"/);

    assertEquals(await statusCounts(fx), before);
  } finally {
    await fx.close();
  }
});

Deno.test("an unreachable parent database exits 1 naming the server", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sources = `${dir}/sources.yaml`;
    await Deno.writeTextFile(
      sources,
      fixtureSourcesYaml({
        table: "catalog.documents",
        dsnEnv: "UNREACHABLE_PARENT_DSN",
        maxAgeDays: 30,
        originals: "fs_root: /nonexistent",
      }),
    );
    const port = freePort();
    const run = await runMark(["--once", "--sources", sources], {
      UNREACHABLE_PARENT_DSN: `postgres://postgres@127.0.0.1:${port}/parent`,
    });
    assertEquals(run.code, 1, run.stderr);
    assertMatch(run.stderr, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port} .* is unavailable`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("markCommand throws DesConfigError before touching the parent", async () => {
  const fx = await createParentFixture({ rows: 20, originals: "none" });
  try {
    const yaml = await Deno.readTextFile(fx.sourcesPath);
    const bad = `${fx.dir}/bad.yaml`;
    await Deno.writeTextFile(bad, yaml.replace("catalog.documents", "catalog.nothing"));
    await assertRejects(
      () => markCommand(["--once", "--sources", bad], fx.env),
      DesConfigError,
      "does not exist",
    );
    assertEquals((await statusCounts(fx)).queued, undefined);
  } finally {
    await fx.close();
  }
});

Deno.test("mark --interval serves health, readiness and metrics, and stops on SIGTERM", async () => {
  const fx = await createParentFixture({ rows: 400, originals: "none" });
  const port = freePort();
  const child = markProcess(
    [
      "--interval",
      "1h",
      "--sources",
      fx.sourcesPath,
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
    ],
    fixtureEnv(fx),
  );
  const stderr = child.stderr.pipeThrough(new TextDecoderStream());
  const logText: string[] = [];
  const drained = (async () => {
    for await (const chunk of stderr) logText.push(chunk);
  })();
  try {
    const base = `http://127.0.0.1:${port}`;
    const metric = `des_marker_rows_marked_total{source="fixture-docs"} ${fx.eligibleIds.size}`;
    let metrics = "";
    for (let i = 0; i < 600 && !metrics.includes(metric); i++) {
      metrics = await fetch(`${base}/metrics`).then((r) => r.text()).catch(() => "");
      if (!metrics.includes(metric)) await new Promise((r) => setTimeout(r, 100));
    }
    assert(metrics.includes(metric), `metrics never showed ${metric}:\n${metrics}`);
    assert(metrics.includes("# TYPE des_marker_batch_seconds histogram"));

    const health = await fetch(`${base}/healthz`);
    assertEquals([health.status, await health.json()], [200, { status: "ok" }]);
    const ready = await fetch(`${base}/readyz`);
    assertEquals([ready.status, (await ready.json()).status], [200, "ready"]);
    assertEquals((await statusCounts(fx)).queued, fx.eligibleIds.size);

    child.kill("SIGTERM");
    const status = await child.status;
    await drained;
    assertEquals(status.code, 0, logText.join(""));
    assertMatch(logText.join(""), /"msg":"marker stopped"/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.status;
    await fx.close();
  }
});
