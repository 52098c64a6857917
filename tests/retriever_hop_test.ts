/**
 * The gateway → retriever hop cannot be gone around: a retriever with
 * `DES_RETRIEVER_TOKEN` answers `/files` only to that token (compared in
 * constant time), serves HTTPS with `DES_TLS_*`, and refuses to listen
 * beyond loopback without a token unless told to; the gateway sends the
 * token, trusts the CA of `DES_RETRIEVER_CA_FILE`, and routes only to
 * registrations whose URL is on `DES_RETRIEVER_URL_ALLOWLIST`. Real
 * processes on a real PostgreSQL catalog and Ceph RGW bucket.
 */

import { assert, assertEquals, assertMatch, assertThrows } from "./_helpers/assert.ts";
import { commitContainer, fixtureBytes, NameSource } from "./_helpers/archive_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";
import { startService } from "./_helpers/service_process.ts";
import { DesConfigError } from "../core/errors.ts";
import { HopTokenCheck, parseHopToken } from "../core/hop_token.ts";
import { registerRetriever } from "../db/retriever_records.ts";
import { allowedRecords, urlAllowed } from "../gateway/retriever_hop.ts";
import { checkExposure } from "../retriever/retriever_config.ts";
import { isLoopbackHost } from "../core/loopback.ts";
import { makeCertificate } from "./_helpers/tls_certificate.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const TOKEN = "hop-token-0123456789abcdefghij";

Deno.test("hop token: parsed strictly, compared exactly, never echoed", () => {
  assertEquals(parseHopToken(undefined), undefined);
  assertEquals(parseHopToken("  "), undefined);
  const error = assertThrows(() => parseHopToken("short-secret"), DesConfigError);
  assert(!error.message.includes("short-secret"), error.message);
  const check = new HopTokenCheck(TOKEN);
  assert(check.accepts(`Bearer ${TOKEN}`));
  for (const bad of [null, "", TOKEN, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`]) {
    assert(!check.accepts(bad), String(bad));
  }
});

Deno.test("retriever exposure: beyond loopback only with a token or the explicit opt-out", () => {
  const open = { allowUnauthenticated: false };
  for (const host of ["127.0.0.1", "localhost", "::1", "[::1]"]) {
    assert(isLoopbackHost(host), host);
    checkExposure(host, open);
  }
  for (const host of ["0.0.0.0", "10.0.0.5", "::"]) {
    assertThrows(() => checkExposure(host, open), DesConfigError);
    checkExposure(host, { token: TOKEN, allowUnauthenticated: false });
    checkExposure(host, { allowUnauthenticated: true });
  }
});

Deno.test("registration allow-list: loopback by default, the listed URLs otherwise", () => {
  assert(urlAllowed("http://127.0.0.1:8101", []));
  assert(urlAllowed("https://localhost:8101/", []));
  assert(!urlAllowed("http://10.0.0.5:8101", []));
  assert(!urlAllowed("http://127.0.0.1.evil.example:80", []));
  const list = ["https://10.0.0.5:8101", "https://retriever-1.des.svc:8101"];
  assert(urlAllowed("https://10.0.0.5:8101", list));
  assert(urlAllowed("https://10.0.0.5:8101/", list));
  assert(!urlAllowed("https://10.0.0.5:81010", list));
  assert(!urlAllowed("http://10.0.0.5:8101", list));
  assert(!urlAllowed("http://127.0.0.1:8101", list));
  const records = [
    { id: "a", url: "https://10.0.0.5:8101", range: { start: 0, end: 7 } },
    { id: "b", url: "http://203.0.113.9:80", range: { start: 8, end: 15 } },
  ];
  assertEquals(allowedRecords(records, list).map((r) => r.id), ["a"]);
});

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

/** Run to exit, killed (and reported as code -1) when still running after `ms`. */
async function runBounded(
  cmd: Deno.Command,
  ms = 30_000,
): Promise<{ code: number; stderr: string }> {
  const child = cmd.spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const out = await child.output();
    return { code: out.signal ? -1 : out.code, stderr: new TextDecoder().decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "token + TLS between gateway and retriever processes; allow-list of registrations",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("hop");
    const dir = await Deno.makeTempDir({ prefix: "des-hop-" });
    const children: Deno.ChildProcess[] = [];
    const env = {
      ...withTestS3Env(),
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DES_DATABASE_URL: pg.url,
      DES_ARCHIVE_BUCKET: store.bucket,
      DES_SHARD_BITS: "4",
      DES_KV_PATH: `${dir}/r.kv`,
    };
    try {
      const names = new NameSource();
      const files = names.manyInShard(3, 2).map((name, i) => ({
        name,
        bytes: fixtureBytes(700, i + 1),
      }));
      await commitContainer(pg.db, store, { shard: 3, files, bucket: store.bucket });
      const { cert, key } = await makeCertificate(dir, "retriever");
      const retriever = await startService(
        command("retriever/main.ts", ["--range", "0-15", "--port", "0", "--id", "r1"], {
          ...env,
          DES_RETRIEVER_TOKEN: TOKEN,
          DES_TLS_CERT_FILE: cert,
          DES_TLS_KEY_FILE: key,
        }),
        "retriever",
        "retriever listening",
      );
      children.push(retriever.child);
      const retrieverUrl = `https://127.0.0.1:${retriever.port}`;
      const trusting = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });

      await t.step("the retriever answers /files only with the token, over HTTPS", async () => {
        const url = `${retrieverUrl}/files/${files[0].name}`;
        for (const authorization of [undefined, "Bearer wrong-token-0123456789abcdef"]) {
          const res = await fetch(url, {
            client: trusting,
            headers: authorization ? { authorization } : {},
          });
          assertEquals(res.status, 401);
          assertEquals(res.headers.get("content-type"), "application/problem+json");
          await res.body?.cancel();
        }
        const ok = await fetch(url, {
          client: trusting,
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        assertEquals(ok.status, 200);
        assertEquals(new Uint8Array(await ok.arrayBuffer()), files[0].bytes);
        const probe = await fetch(`${retrieverUrl}/healthz`, { client: trusting });
        assertEquals(probe.status, 200);
        await probe.body?.cancel();
      });

      await t.step("the gateway sends the token and trusts the CA it is given", async () => {
        await Deno.writeTextFile(
          `${dir}/routes.yaml`,
          `retrievers:\n  - { id: r1, url: "${retrieverUrl}", range: "0-15" }\n`,
        );
        const gatewayEnv = { ...env, DES_GATEWAY_AUDIT: "false", DES_RETRIEVER_TOKEN: TOKEN };
        const good = await startService(
          command("gateway/main.ts", ["--routes", `${dir}/routes.yaml`, "--port", "0"], {
            ...gatewayEnv,
            DES_RETRIEVER_CA_FILE: cert,
          }),
          "gateway",
          "gateway listening",
        );
        children.push(good.child);
        const res = await fetch(`http://127.0.0.1:${good.port}/files/${files[1].name}`);
        assertEquals(res.status, 200);
        assertEquals(new Uint8Array(await res.arrayBuffer()), files[1].bytes);
        const untrusting = await startService(
          command("gateway/main.ts", ["--routes", `${dir}/routes.yaml`, "--port", "0"], gatewayEnv),
          "gateway",
          "gateway listening",
        );
        children.push(untrusting.child);
        const refused = await fetch(`http://127.0.0.1:${untrusting.port}/files/${files[1].name}`);
        assertEquals(refused.status, 503);
        await refused.body?.cancel();
      });

      await t.step("a retriever refuses 0.0.0.0 without a token unless told", async () => {
        const out = await runBounded(command(
          "retriever/main.ts",
          ["--range", "0-15", "--port", "0", "--host", "0.0.0.0", "--no-register"],
          env,
        ));
        assertEquals(out.code, 2, out.stderr);
        assertMatch(out.stderr, /DES_RETRIEVER_TOKEN/);
        const optedOut = await startService(
          command(
            "retriever/main.ts",
            ["--range", "0-15", "--port", "0", "--host", "0.0.0.0", "--no-register", "--id", "r2"],
            { ...env, DES_RETRIEVER_ALLOW_UNAUTHENTICATED: "true", DES_KV_PATH: `${dir}/r2.kv` },
          ),
          "retriever",
          "retriever listening",
        );
        children.push(optedOut.child);
      });

      await t.step("the gateway routes only to allowed registrations", async () => {
        let out: { code: number; stderr: string };
        // A database of its own: the running retriever keeps re-registering in the main one.
        const other = await createTestDatabase({ migrate: true });
        try {
          await registerRetriever(other.db, {
            id: "intruder",
            url: "http://203.0.113.9:8101",
            range: { start: 0, end: 15 },
          });
          out = await runBounded(
            command("gateway/main.ts", ["--routes-from-db", "--port", "0"], {
              ...env,
              DES_DATABASE_URL: other.url,
              DES_GATEWAY_AUDIT: "false",
            }),
          );
        } finally {
          await other.drop();
        }
        assertEquals(out.code, 2, out.stderr);
        assertMatch(out.stderr, /not allowed/);
      });
      trusting.close();
    } finally {
      for (const child of children) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.status;
      }
      await removeTestS3Store(store);
      await pg.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
