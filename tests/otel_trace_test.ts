/**
 * One read through a gateway process and a retriever process, both started
 * with Deno's OpenTelemetry export (`OTEL_DENO=true`, OTLP/HTTP JSON) to a
 * small receiver in this test: the spans of gateway, retriever and the S3
 * request share the caller's trace id and form one connected tree.
 */

import { startService } from "./_helpers/service_process.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { commitContainer, fixtureBytes, NameSource } from "./_helpers/archive_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";
import { otlpReceiver, type ReceivedSpan } from "./_helpers/otlp_receiver.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function spawn(script: string, args: string[], env: Record<string, string>, ready: string) {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", `${ROOT}${script}`, ...args],
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  return await startService(command, script, ready);
}

Deno.test({
  name: "traces: one read gives connected spans gateway → retriever → S3 under one trace id",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const receiver = otlpReceiver();
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("otel");
    const dir = await Deno.makeTempDir({ prefix: "des-otel-" });
    const children: Deno.ChildProcess[] = [];
    const names = new NameSource();
    const otel = {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    };
    const env = {
      ...withTestS3Env(),
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/root",
      DES_DATABASE_URL: pg.url,
      DES_ARCHIVE_BUCKET: store.bucket,
      DES_SHARD_BITS: "4",
      DES_LOG_LEVEL: "info",
      DES_KV_PATH: `${dir}/r.kv`,
    };
    try {
      const files = names.manyInShard(3, 2).map((name, i) => ({
        name,
        bytes: fixtureBytes(700, i),
      }));
      await commitContainer(pg.db, store, { shard: 3, files, bucket: store.bucket });
      const retriever = await spawn(
        "retriever/main.ts",
        ["--range", "0-15", "--port", "0", "--id", "r1"],
        { ...env, ...otel, OTEL_SERVICE_NAME: "des-retriever" },
        "retriever listening",
      );
      children.push(retriever.child);
      await Deno.writeTextFile(
        `${dir}/routes.yaml`,
        `retrievers:\n  - { id: r1, url: "http://127.0.0.1:${retriever.port}", range: "0-15" }\n`,
      );
      const gateway = await spawn(
        "gateway/main.ts",
        ["--routes", `${dir}/routes.yaml`, "--port", "0"],
        { ...env, ...otel, OTEL_SERVICE_NAME: "des-gateway", DES_GATEWAY_AUDIT: "true" },
        "gateway listening",
      );
      children.push(gateway.child);

      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const res = await fetch(`http://127.0.0.1:${gateway.port}/files/${files[0].name}`, {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      assertEquals(res.status, 200);
      assertEquals(new Uint8Array(await res.arrayBuffer()), files[0].bytes);
      // A read without traceparent: Deno's server span starts the trace, logs and audit follow it.
      const second = await fetch(`http://127.0.0.1:${gateway.port}/files/${files[1].name}`);
      assertEquals(second.status, 200);
      await second.arrayBuffer();

      // Spans are exported in batches: stop the services (which flushes), then wait a little.
      for (const child of children) child.kill("SIGTERM");
      await Promise.all(children.map((c) => c.status));
      children.length = 0;
      const deadline = Date.now() + 30_000;
      let mine: ReceivedSpan[] = [];
      while (Date.now() < deadline) {
        mine = receiver.spans.filter((s) => s.traceId === traceId);
        if (mine.some((s) => s.name === "des.retriever.read") && mine.length >= 4) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const SERVER = 2, CLIENT = 3;
      const gatewayServer = mine.find((s) => s.service === "des-gateway" && s.kind === SERVER);
      assert(gatewayServer, "gateway server span");
      // The caller's traceparent is the parent.
      assertEquals(gatewayServer.parentSpanId, "00f067aa0ba902b7");
      const gatewayIds = new Set(
        mine.filter((s) => s.service === "des-gateway").map((s) => s.spanId),
      );
      const retrieverServer = mine.find((s) => s.service === "des-retriever" && s.kind === SERVER);
      assert(retrieverServer, "retriever server span");
      assert(gatewayIds.has(retrieverServer.parentSpanId), "retriever span hangs off the gateway");
      const read = mine.find((s) => s.name === "des.retriever.read");
      assert(read, "retriever read span");
      assertEquals(read.parentSpanId, retrieverServer.spanId);
      assertEquals(read.attributes["des.file.name"], files[0].name);
      assertEquals(read.attributes["des.shard"], 3);
      assertEquals(read.attributes["des.cache.tier"], "s3"); // first read: index from S3
      assert(String(read.attributes["des.container.id"]).length > 0);
      const s3 = mine.filter((s) =>
        s.kind === CLIENT && String(s.attributes["url.full"]).includes(`/${store.bucket}/`)
      );
      assert(s3.length > 0, "S3 client spans");
      for (const span of s3) assertEquals(span.parentSpanId, read.spanId);

      // Trace ids in logs and audit rows are the exported ones.
      const gatewayLog = gateway.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
      assertEquals(gatewayLog.length, 2, gateway.lines.join("\n"));
      assertEquals(gatewayLog[0].traceId, traceId);
      const secondTrace = gatewayLog[1].traceId;
      assert(
        receiver.spans.some((s) =>
          s.traceId === secondTrace && s.service === "des-gateway" && s.kind === SERVER
        ),
        "the second read's logged trace id is the one exported",
      );
      const retrieverLog = retriever.lines.map((l) => JSON.parse(l)).filter((l) =>
        l.msg === "read"
      );
      assertEquals(retrieverLog.map((l) => l.traceId), [traceId, secondTrace]);
      const audit = await pg.db.query<{ trace_id: string }>(
        "select trace_id from des_read_audit order by id",
      );
      assertEquals(audit.map((r) => r.trace_id), [traceId, secondTrace]);
    } finally {
      for (const child of children) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.status;
      }
      await removeTestS3Store(store).catch(() => {});
      await pg.drop();
      await receiver.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
