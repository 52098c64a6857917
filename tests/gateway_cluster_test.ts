/**
 * Three retrievers as separate processes (`retriever/main.ts`) on split
 * shard ranges behind one gateway process (`gateway/main.ts`), on a real
 * PostgreSQL catalog and a real Ceph RGW bucket: every name is served by
 * its owner only, a routing config with a gap or an overlap is refused,
 * and a killed retriever gives 503 for its shards only.
 */

import { startService } from "./_helpers/service_process.ts";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { commitContainer, fixtureBytes, NameSource } from "./_helpers/archive_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";
import { makeCertificate } from "./_helpers/tls_certificate.ts";

const ROOT = new URL("..", import.meta.url).pathname;

interface Service {
  child: Deno.ChildProcess;
  port: number;
  lines: string[];
  exited: Promise<Deno.CommandStatus>;
}

/** Start `deno run` on `script`, wait for the log line `readyMsg`, return its port. */
async function spawn(
  script: string,
  args: string[],
  env: Record<string, string>,
  readyMsg: string,
): Promise<Service> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", `${ROOT}${script}`, ...args],
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  const started = await startService(command, script, readyMsg);
  return { ...started, exited: started.child.status };
}

async function stop(service: Service, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    service.child.kill(signal);
  } catch { /* already gone */ }
  await service.exited;
}

Deno.test({
  name: "three retriever processes behind one gateway process",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("gw-cluster");
    const dir = await Deno.makeTempDir({ prefix: "des-gw-cluster-" });
    const services: Service[] = [];
    const names = new NameSource();
    const env = {
      ...withTestS3Env(),
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DES_DATABASE_URL: pg.url,
      DES_ARCHIVE_BUCKET: store.bucket,
      DES_SHARD_BITS: "4",
      DES_LOG_LEVEL: "info",
    };
    const owners = [
      { id: "ra", range: "0-4" },
      { id: "rb", range: "5-9" },
      { id: "rc", range: "10-15" },
    ];
    const ownerOf = (shard: number) => shard <= 4 ? "ra" : shard <= 9 ? "rb" : "rc";
    try {
      const byShard = new Map<number, { name: string; bytes: Uint8Array }[]>();
      for (const shard of [0, 4, 5, 9, 10, 15]) {
        const files = names.manyInShard(shard, 3).map((name, i) => ({
          name,
          bytes: fixtureBytes(500 + shard, shard * 10 + i),
        }));
        byShard.set(shard, files);
        await commitContainer(pg.db, store, { shard, files, bucket: store.bucket });
      }
      const retrievers = await Promise.all(
        owners.map((o) =>
          spawn("retriever/main.ts", ["--range", o.range, "--port", "0", "--id", o.id], {
            ...env,
            DES_KV_PATH: `${dir}/${o.id}.kv`,
          }, "retriever listening")
        ),
      );
      services.push(...retrievers);
      const routes = (list: { id: string; range: string; port: number }[]) =>
        "retrievers:\n" +
        list.map((r) =>
          `  - { id: ${r.id}, url: "http://127.0.0.1:${r.port}", range: "${r.range}" }`
        )
          .join("\n") +
        "\n";
      const good = owners.map((o, i) => ({ ...o, port: retrievers[i].port }));
      await Deno.writeTextFile(`${dir}/routes.yaml`, routes(good));
      const gateway = await spawn(
        "gateway/main.ts",
        ["--routes", `${dir}/routes.yaml`, "--port", "0"],
        { ...env, DES_GATEWAY_AUDIT: "true" },
        "gateway listening",
      );
      services.push(gateway);
      const base = `http://127.0.0.1:${gateway.port}`;

      await t.step("every name is served by its owner only", async () => {
        for (const [shard, files] of byShard) {
          for (const f of files) {
            const res = await fetch(`${base}/files/${f.name}`);
            assertEquals(res.status, 200, f.name);
            assertEquals(res.headers.get("x-des-retriever"), ownerOf(shard), `shard ${shard}`);
            assertEquals(new Uint8Array(await res.arrayBuffer()), f.bytes);
          }
          const missing = await fetch(`${base}/files/${names.inShard(shard)}`);
          assertEquals(missing.status, 404);
          assertEquals(missing.headers.get("x-des-retriever"), ownerOf(shard));
          await missing.body?.cancel();
        }
      });

      await t.step("a retriever refuses a shard it does not own (421)", async () => {
        const name = byShard.get(10)![0].name;
        const res = await fetch(`http://127.0.0.1:${retrievers[0].port}/files/${name}`);
        assertEquals(res.status, 421);
        assertEquals(res.headers.get("x-des-retriever"), "ra");
        await res.body?.cancel();
      });

      await t.step("retrievers registered themselves; a DB-routed gateway agrees", async () => {
        const rows = await pg.db.query<{ id: string }>("select id from des_retrievers order by id");
        assertEquals(rows.map((r) => r.id), ["ra", "rb", "rc"]);
        const fromDb = await spawn(
          "gateway/main.ts",
          ["--routes-from-db", "--port", "0"],
          { ...env, DES_GATEWAY_AUDIT: "false" },
          "gateway listening",
        );
        services.push(fromDb);
        const f = byShard.get(9)![1];
        const res = await fetch(`http://127.0.0.1:${fromDb.port}/files/${f.name}`);
        assertEquals(res.headers.get("x-des-retriever"), "rb");
        assertEquals(new Uint8Array(await res.arrayBuffer()), f.bytes);
      });

      await t.step("a routing config with a gap or an overlap is refused", async () => {
        const cases = [
          {
            file: "gap.yaml",
            list: [good[0], good[2]],
            expect: /shards 5-9 have no retriever \(gap\)/,
          },
          {
            file: "overlap.yaml",
            list: [good[0], { ...good[1], range: "4-9" }, good[2]],
            expect: /shards 4-4 are owned by more than one retriever: ra, rb \(overlap\)/,
          },
        ];
        for (const c of cases) {
          await Deno.writeTextFile(`${dir}/${c.file}`, routes(c.list));
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              "--unstable-kv",
              `${ROOT}gateway/main.ts`,
              "--routes",
              `${dir}/${c.file}`,
            ],
            env: { ...env, DES_GATEWAY_AUDIT: "false" },
            cwd: ROOT,
            stdout: "null",
            stderr: "piped",
          }).output();
          assertEquals(out.code, 2, c.file);
          assertMatch(new TextDecoder().decode(out.stderr), c.expect);
        }
      });

      await t.step("TLS: HTTPS when DES_TLS_CERT_FILE and DES_TLS_KEY_FILE are set", async () => {
        const { cert, key } = await makeCertificate(dir, "tls");
        const tls = await spawn(
          "gateway/main.ts",
          ["--routes", `${dir}/routes.yaml`, "--port", "0"],
          { ...env, DES_GATEWAY_AUDIT: "false", DES_TLS_CERT_FILE: cert, DES_TLS_KEY_FILE: key },
          "gateway listening",
        );
        services.push(tls);
        const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
        try {
          const f = byShard.get(15)![2];
          const res = await fetch(`https://127.0.0.1:${tls.port}/files/${f.name}`, { client });
          assertEquals(res.status, 200);
          assertEquals(new Uint8Array(await res.arrayBuffer()), f.bytes);
        } finally {
          client.close();
        }
      });

      await t.step("killing one retriever → 503 for its shards only", async () => {
        await stop(retrievers[1], "SIGKILL");
        for (const [shard, files] of byShard) {
          const res = await fetch(`${base}/files/${files[0].name}`);
          if (ownerOf(shard) === "rb") {
            assertEquals(res.status, 503, `shard ${shard}`);
            assertEquals(res.headers.get("retry-after"), "5");
            assertEquals(res.headers.get("content-type"), "application/problem+json");
            await res.body?.cancel();
          } else {
            assertEquals(res.status, 200, `shard ${shard}`);
            assertEquals(new Uint8Array(await res.arrayBuffer()), files[0].bytes);
          }
        }
        const ready = await fetch(`${base}/readyz`);
        assertEquals(ready.status, 503);
        assertMatch(await ready.text(), /"retriever:rb":"not reachable/);
      });

      await t.step("the gateway logged one JSON line per request and wrote the audit", async () => {
        await stop(gateway);
        const requests = gateway.lines.filter((l) => l.includes('"msg":"request"')).map((l) =>
          JSON.parse(l)
        );
        assert(requests.length >= 24, `${requests.length} request lines`);
        assert(requests.every((r) => /^[0-9a-f]{32}$/.test(r.traceId)));
        const rows = await pg.db.query<{ n: number }>(
          "select count(*)::int as n from des_read_audit",
        );
        assertEquals(rows[0].n, requests.length);
      });
    } finally {
      for (const s of services) await stop(s);
      await removeTestS3Store(store);
      await pg.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
