/**
 * Least privilege of the entry points: every service task of `deno.json`
 * runs with its own narrow permission set (no `-A`, no `--allow-run`, no
 * `--allow-ffi`, writes only under `.des`), the lock file is frozen, and
 * each entry point starts and does its work with exactly the flags of its
 * task — against a real PostgreSQL catalog and Ceph RGW bucket.
 */

import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { commitContainer, fixtureBytes, NameSource } from "./_helpers/archive_fixture.ts";
import { createParentFixture } from "./_helpers/parent_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";
import { type ServiceProcess, startService } from "./_helpers/service_process.ts";
import { until } from "./_helpers/until.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO_JSON = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  tasks: Record<string, string>;
  lock?: { frozen?: boolean };
};
const SERVICE_TASKS = ["des", "retriever", "gateway", "pack", "mark", "reap", "demo", "serve"];

/** The `deno run` flags and script of a task. */
function taskRun(name: string): string[] {
  const parts = DENO_JSON.tasks[name].trim().split(/\s+/);
  assertEquals(parts.slice(0, 2), ["deno", "run"], name);
  return parts.slice(2);
}

Deno.test("deno.json: each service task has a narrow permission set; the lock is frozen", () => {
  assertEquals(DENO_JSON.lock?.frozen, true);
  for (const name of SERVICE_TASKS) {
    const flags = taskRun(name).filter((a) => a.startsWith("-"));
    for (const forbidden of ["-A", "--allow-all", "--allow-run", "--allow-ffi"]) {
      assert(!flags.some((f) => f === forbidden || f.startsWith(`${forbidden}=`)), `${name}`);
    }
    assert(flags.some((f) => f.startsWith("--allow-net")), `${name} needs the network`);
    if (name !== "des") {
      assert(flags.includes("--allow-write=.des"), `${name} writes only under .des`);
      assert(!flags.includes("--allow-sys"), `${name}: --allow-sys is scoped`);
    }
  }
  for (const name of ["retriever", "gateway", "mark", "reap", "demo"]) {
    // The checkout, and /proc/self for the open file descriptor metrics.
    assert(taskRun(name).includes("--allow-read=.,/proc/self"), `${name} reads only the checkout`);
  }
  assert(taskRun("demo").includes("--allow-net=127.0.0.1"), "the demo stays on loopback");
});

function command(task: string, args: string[], env: Record<string, string>): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...taskRun(task), ...args],
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function finish(cmd: Deno.Command, ms = 180_000): Promise<{ code: number; text: string }> {
  const child = cmd.spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { code: out.signal ? -1 : out.code, text };
  } finally {
    clearTimeout(timer);
  }
}

function spawn(
  task: string,
  args: string[],
  env: Record<string, string>,
  ready: string,
): Promise<ServiceProcess> {
  return startService(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...taskRun(task), ...args],
      env,
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }),
    `deno task ${task} ${args.join(" ")}`,
    ready,
  );
}

Deno.test({
  name: "every entry point starts and serves with the permissions of its task",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("perms");
    const parent = await createParentFixture({ rows: 20 });
    const local = `.des/perm-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(`${ROOT}${local}`, { recursive: true });
    const children: ServiceProcess[] = [];
    const env: Record<string, string> = {
      ...withTestS3Env(),
      ...Object.fromEntries(parent.env),
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DES_DATABASE_URL: pg.url,
      DES_ARCHIVE_BUCKET: store.bucket,
      DES_SHARD_BITS: "4",
      DES_PACKER_WORKDIR: `${local}/work`,
      DES_KV_PATH: `${local}/index.kv`,
      NO_COLOR: "1",
    };
    try {
      const names = new NameSource();
      const file = { name: names.inShard(3), bytes: fixtureBytes(900, 3) };
      const committed = await commitContainer(pg.db, store, {
        shard: 3,
        files: [file],
        bucket: store.bucket,
      });
      const sources = `${local}/sources.yaml`;
      await Deno.copyFile(parent.sourcesPath, `${ROOT}${sources}`);
      const get = async (base: string) => {
        const res = await fetch(`${base}/files/${file.name}`);
        assertEquals(res.status, 200, base);
        assertEquals(new Uint8Array(await res.arrayBuffer()), file.bytes);
      };

      /** `/readyz` 200: the DB and the store (through the S3 SDK) answer with these permissions. */
      const ready = async (base: string) => {
        const res = await fetch(`${base}/readyz`);
        const body = await res.text();
        assertEquals(res.status, 200, body);
      };

      let retrieverPort = 0;
      await t.step("retriever", async () => {
        const r = await spawn(
          "retriever",
          ["--range", "0-15", "--port", "0", "--id", "rp"],
          { ...env, DES_KV_PATH: `${local}/r.kv` },
          "retriever listening",
        );
        children.push(r);
        retrieverPort = r.port;
        await get(`http://127.0.0.1:${r.port}`);
        await ready(`http://127.0.0.1:${r.port}`);
      });

      await t.step("gateway (routes file, then --in-process)", async () => {
        const routes = `${local}/routes.yaml`;
        await Deno.writeTextFile(
          `${ROOT}${routes}`,
          `retrievers:\n  - { id: rp, url: "http://127.0.0.1:${retrieverPort}", range: "0-15" }\n`,
        );
        const g = await spawn(
          "gateway",
          ["--routes", routes, "--port", "0"],
          env,
          "gateway listening",
        );
        children.push(g);
        await get(`http://127.0.0.1:${g.port}`);
        const i = await spawn(
          "gateway",
          ["--in-process", "--port", "0"],
          { ...env, DES_KV_PATH: `${local}/g.kv` },
          "gateway listening",
        );
        children.push(i);
        await get(`http://127.0.0.1:${i.port}`);
        await ready(`http://127.0.0.1:${i.port}`);
      });

      await t.step("mark (service mode) and pack --once", async () => {
        const m = await spawn(
          "mark",
          ["--sources", sources, "--interval", "60s", "--port", "0", "--host", "127.0.0.1"],
          env,
          "marker listening",
        );
        children.push(m);
        const health = await fetch(`http://127.0.0.1:${m.port}/healthz`);
        assertEquals(health.status, 200);
        await health.body?.cancel();
        // Shard 3 holds the hand-made fixture container, which has no parent rows.
        const pack = await finish(
          command("pack", ["--range", "4-15", "--once", "--sources", sources], env),
        );
        assertEquals(
          pack.code,
          0,
          pack.text.split("\n").filter((l) => !l.includes('"level":"info"')).join("\n").slice(
            -3000,
          ),
        );
      });

      await t.step(
        "scrub (service mode) checks every container and exports its metrics",
        async () => {
          const s = await spawn(
            "scrub",
            ["--sources", sources, "--rate", "8MiB/s", "--port", "0", "--host", "127.0.0.1"],
            env,
            "scrubber listening",
          );
          children.push(s);
          await ready(`http://127.0.0.1:${s.port}`);
          let metrics = "";
          await until(
            async () => {
              metrics = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
              return /^des_scrub_last_full_pass_timestamp_seconds \d/m.test(metrics);
            },
            "the first scrub pass to end",
            60_000,
          );
          assertMatch(metrics, /^des_scrub_containers_total\{result="ok"\} [1-9]/m);
          assertMatch(metrics, /^des_scrub_bytes_total [1-9]/m);
          assertEquals(/result="(damaged|error)"/.test(metrics), false, metrics);
        },
      );

      await t.step("serve", async () => {
        const s = await spawn(
          "serve",
          ["--port", "0", "--sources", sources, "--mark-interval", "0", "--pack-interval", "0"],
          { ...env, DES_KV_PATH: `${local}/s.kv` },
          "serve listening",
        );
        children.push(s);
        const line = s.lines.find((l) => l.includes('"msg":"serve listening"'))!;
        await get(JSON.parse(line).url);
      });

      await t.step("des (CLI) and demo", async () => {
        const ls = await finish(
          command("des", ["ls", `s3://${store.bucket}/${committed.key}`], env),
        );
        assertEquals(ls.code, 0, ls.text);
        assert(ls.text.includes(file.name), ls.text);
        const demo = await finish(
          command("demo", ["--check", "--port", "0", "--files", "60", "--dir", `${local}/demo`], {
            PATH: env.PATH,
            HOME: env.HOME,
            NO_COLOR: "1",
          }),
        );
        assertEquals(demo.code, 0, demo.text.slice(-3000));
      });
    } finally {
      for (const c of children) {
        try {
          c.child.kill("SIGTERM");
        } catch { /* gone */ }
        await c.child.status;
      }
      await parent.close();
      await removeTestS3Store(store);
      await pg.drop();
      await Deno.remove(`${ROOT}${local}`, { recursive: true }).catch(() => {});
    }
  },
});
