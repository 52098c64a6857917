/**
 * Dependency faults on every read path — split gateway + retriever
 * processes, `gateway --in-process`, and the all-in-one `serve` in this
 * process — against a real PostgreSQL catalog and the real Ceph RGW behind
 * a pausable TCP proxy (the shared RGW itself is never touched):
 *
 * - a connection storm (every backend of this test's own database
 *   terminated 20 times in 10 s) while reads go on: reads keep answering,
 *   no process dies, and a container committed afterwards becomes readable
 *   through the re-established LISTEN (the periodic reload is far away),
 *   readiness turns 200 again and the retriever's registration heartbeat
 *   resumes;
 * - a frozen S3 (the proxy holds every byte): reads of files not yet cached
 *   answer 503 with `Retry-After` within a few seconds, `/readyz` answers
 *   in time naming the store, `/healthz` stays 200, and the repeated error
 *   is logged a few times, not once per read;
 * - throughout: no unhandled rejection in this process, none printed by a
 *   child, every child still running.
 *
 * Time bounds are far above the configured timeouts; they only catch hangs.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { commitContainer, fixtureBytes, NameSource } from "./_helpers/archive_fixture.ts";
import { createParentFixture } from "./_helpers/parent_fixture.ts";
import { createTestDatabase, TEST_DATABASE_URL } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";
import { type ServiceProcess, startService } from "./_helpers/service_process.ts";
import { TcpProxy } from "./_helpers/tcp_proxy.ts";
import { loadConfig } from "../core/config.ts";
import { Logger } from "../core/log.ts";
import { openDb } from "../db/open_db.ts";
import { loadGatewaySettings } from "../gateway/gateway_config.ts";
import { startAllInOne } from "../serve/all_in_one.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** A read that takes longer than this hung. */
const HANG_MS = 15_000;

function command(script: string, args: string[], env: Record<string, string>): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", `${ROOT}${script}`, ...args],
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
}

async function timedFetch(url: string): Promise<{ status: number; ms: number; res: Response }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(HANG_MS) });
  const ms = performance.now() - started;
  return { status: res.status, ms, res };
}

Deno.test({
  name: "connection storm and frozen S3: every read path stays alive and answers",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: PromiseRejectionEvent) => {
      unhandled.push(e.reason);
      e.preventDefault();
    };
    globalThis.addEventListener("unhandledrejection", onUnhandled);
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("faults");
    const proxy = TcpProxy.start(Deno.env.get("DES_TEST_S3_ENDPOINT")!);
    const parent = await createParentFixture({ rows: 3 });
    const dir = await Deno.makeTempDir({ prefix: "des-faults-" });
    const children: ServiceProcess[] = [];
    let serve: Awaited<ReturnType<typeof startAllInOne>> | undefined;
    const admin = await openDb(TEST_DATABASE_URL, { max: 1, applicationName: "des-storm" });
    const env: Record<string, string> = {
      ...withTestS3Env(),
      DES_S3_ENDPOINT: proxy.url,
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DES_DATABASE_URL: pg.url,
      DES_ARCHIVE_BUCKET: store.bucket,
      DES_SHARD_BITS: "4",
      DES_PACKER_WORKDIR: `${dir}/work`,
      DES_LOG_LEVEL: "info",
    };
    try {
      const names = new NameSource();
      const byShard = new Map<number, { name: string; bytes: Uint8Array }[]>();
      for (let shard = 0; shard < 16; shard++) {
        byShard.set(
          shard,
          names.manyInShard(shard, 6).map((name, i) => ({
            name,
            bytes: fixtureBytes(300 + i, shard * 16 + i),
          })),
        );
      }
      await Promise.all(
        [...byShard].map(([shard, files]) =>
          commitContainer(pg.db, store, { shard, files, bucket: store.bucket })
        ),
      );
      const retriever = await startService(
        command("retriever/main.ts", ["--range", "0-15", "--port", "0", "--id", "r1"], {
          ...env,
          DES_KV_PATH: `${dir}/r1.kv`,
        }),
        "retriever",
        "retriever listening",
      );
      children.push(retriever);
      await Deno.writeTextFile(
        `${dir}/routes.yaml`,
        `retrievers:\n  - { id: r1, url: "http://127.0.0.1:${retriever.port}", range: "0-15" }\n`,
      );
      const split = await startService(
        command("gateway/main.ts", ["--routes", `${dir}/routes.yaml`, "--port", "0"], env),
        "gateway",
        "gateway listening",
      );
      children.push(split);
      const inProcess = await startService(
        command("gateway/main.ts", ["--in-process", "--port", "0"], {
          ...env,
          DES_KV_PATH: `${dir}/in-process.kv`,
        }),
        "gateway --in-process",
        "gateway listening",
      );
      children.push(inProcess);
      const serveEnv = new Map(Object.entries({ ...env, DES_KV_PATH: `${dir}/serve.kv` }));
      serve = await startAllInOne({
        config: loadConfig(serveEnv),
        gateway: await loadGatewaySettings(serveEnv),
        sourcesPath: parent.sourcesPath,
        env: parent.env,
        hostname: "127.0.0.1",
        port: 0,
        markIntervalMs: 0,
        packIntervalMs: 0,
        log: new Logger("serve", { level: "warn" }),
      });
      const paths = [
        { name: "split", base: `http://127.0.0.1:${split.port}` },
        { name: "in-process", base: `http://127.0.0.1:${inProcess.port}` },
        { name: "serve", base: serve.url },
      ];
      const read = async (base: string, file: { name: string; bytes: Uint8Array }) => {
        const r = await timedFetch(`${base}/files/${file.name}`);
        if (r.status === 200) {
          assertEquals(new Uint8Array(await r.res.arrayBuffer()), file.bytes, file.name);
        } else await r.res.body?.cancel();
        return r;
      };

      await t.step("every path serves before the faults", async () => {
        for (const p of paths) {
          for (const files of byShard.values()) {
            assertEquals((await read(p.base, files[0])).status, 200);
          }
        }
      });

      await t.step("connection storm: reads keep answering, LISTEN comes back", async () => {
        const database = new URL(pg.url).pathname.slice(1);
        let terminated = 0;
        let failedReads = 0;
        let reads = 0;
        const stop = Date.now() + 10_000;
        const storm = (async () => {
          for (let i = 0; i < 20; i++) {
            const rows = await admin.query<{ n: number }>(
              `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
               where datname = $1 and pid <> pg_backend_pid()`,
              [database],
            );
            terminated += rows[0].n;
            await new Promise((r) => setTimeout(r, 500));
          }
        })();
        while (Date.now() < stop) {
          for (const p of paths) {
            for (const files of byShard.values()) {
              reads++;
              if ((await read(p.base, files[0])).status !== 200) failedReads++;
            }
            const ready = await timedFetch(`${p.base}/readyz`);
            await ready.res.body?.cancel();
            const health = await timedFetch(`${p.base}/healthz`);
            assertEquals(health.status, 200, `${p.name} /healthz`);
            await health.res.body?.cancel();
          }
        }
        await storm;
        console.log(
          `storm: ${terminated} backends terminated, ${reads} reads, ${failedReads} not 200`,
        );
        assert(terminated >= 20, `only ${terminated} backends were terminated`);
        assertEquals(failedReads, 0);
        // A commit after the storm reaches every retriever by NOTIFY (reload is 60 s away).
        const late = { name: names.inShard(5), bytes: fixtureBytes(777, 99) };
        await commitContainer(pg.db, store, { shard: 5, files: [late], bucket: store.bucket });
        for (const p of paths) {
          const deadline = Date.now() + 20_000;
          let status = 0;
          while (Date.now() < deadline && status !== 200) {
            status = (await read(p.base, late)).status;
            if (status !== 200) await new Promise((r) => setTimeout(r, 250));
          }
          assertEquals(status, 200, `${p.name}: the container committed after the storm`);
        }
        for (const p of paths) {
          const deadline = Date.now() + 20_000;
          let status = 0;
          while (Date.now() < deadline && status !== 200) {
            const r = await timedFetch(`${p.base}/readyz`);
            await r.res.body?.cancel();
            status = r.status;
            if (status !== 200) await new Promise((r) => setTimeout(r, 500));
          }
          assertEquals(status, 200, `${p.name} ready again after the storm`);
        }
        // The retriever's registration outlived the storm: its heartbeat is fresh again.
        const deadline = Date.now() + 20_000;
        let fresh = false;
        while (!fresh && Date.now() < deadline) {
          const rows = await pg.db.query<{ fresh: boolean }>(
            "select heartbeat_at > now() - interval '8 seconds' as fresh from des_retrievers where id = 'r1'",
          );
          fresh = rows[0]?.fresh === true;
          if (!fresh) await new Promise((r) => setTimeout(r, 500));
        }
        assert(fresh, "the retriever's registration heartbeat did not come back");
      });

      await t.step("frozen S3: 503 with Retry-After in seconds, probes answer", async () => {
        proxy.pause();
        try {
          // The paths are separate processes (and this one): each waits out its own timeouts,
          // all at once.
          await Promise.all(paths.map(async (p, i) => {
            const file = byShard.get(7)![1 + i];
            const r = await read(p.base, file);
            console.log(`frozen S3, ${p.name}: ${r.status} after ${Math.round(r.ms)} ms`);
            assertEquals(r.status, 503, `${p.name} read`);
            assert(r.res.headers.get("retry-after"), `${p.name} Retry-After`);
            const ready = await timedFetch(`${p.base}/readyz`);
            const body = await ready.res.text();
            console.log(
              `frozen S3, ${p.name} /readyz: ${ready.status} after ${Math.round(ready.ms)} ms`,
            );
            assertEquals(ready.status, 503, `${p.name} /readyz`);
            assert(/store/.test(body), `${p.name} /readyz names the store: ${body}`);
            const health = await timedFetch(`${p.base}/healthz`);
            assertEquals(health.status, 200);
            await health.res.body?.cancel();
          }));
          // Many failing reads at once: the retriever logs the cause a few times, not per read.
          const before = retriever.lines.filter((l) => l.includes('"read failed"')).length;
          const direct = `http://127.0.0.1:${retriever.port}`;
          const burst = await Promise.all(
            [...byShard.values()].map((files) => read(direct, files[5])),
          );
          assert(burst.every((r) => r.status === 503), burst.map((r) => r.status).join(","));
          const logged = retriever.lines.filter((l) => l.includes('"read failed"')).length - before;
          console.log(`frozen S3: ${burst.length} failed reads, ${logged} "read failed" lines`);
          assert(logged <= 6, `${logged} error lines for ${burst.length} failed reads`);
        } finally {
          proxy.resume();
        }
        for (const [i, p] of paths.entries()) {
          const file = byShard.get(7)![1 + i];
          assertEquals((await read(p.base, file)).status, 200, `${p.name} after the thaw`);
        }
      });

      await t.step("no process died, no unhandled rejection anywhere", () => {
        for (const child of children) {
          const text = child.lines.join("\n");
          assert(!/Uncaught|unhandled/i.test(text), text.slice(-2000));
        }
        assertEquals(unhandled.map(String), []);
      });
      for (const p of paths.slice(0, 2)) {
        const r = await timedFetch(`${p.base}/healthz`);
        assertEquals(r.status, 200, `${p.name} alive at the end`);
        await r.res.body?.cancel();
      }
    } finally {
      proxy.resume();
      await serve?.close();
      for (const child of children) {
        try {
          child.child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.child.status;
      }
      proxy.close();
      await admin.close();
      await parent.close();
      await removeTestS3Store(store);
      await pg.drop();
      await Deno.remove(dir, { recursive: true });
      globalThis.removeEventListener("unhandledrejection", onUnhandled);
    }
  },
});
