import { Hono } from "hono";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { TEST_NAME_FORMAT } from "./_helpers/archive_fixture.ts";
import { DesUnavailableError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { childTrace } from "../core/trace.ts";
import { filesHandler } from "../gateway/files_handler.ts";
import type { GatewayEnv } from "../gateway/gateway_env.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";
import { RoutingTable } from "../gateway/routing_table.ts";
import type { RetrieverTarget } from "../gateway/target.ts";
import { NameGenerator } from "../naming/mod.ts";

/** A Hono app serving `/files/:name` through the files handler, with one retriever target. */
function filesApp(target: RetrieverTarget, log: Logger): Hono<GatewayEnv> {
  const routing = RoutingTable.build([target], 16);
  const app = new Hono<GatewayEnv>();
  app.use("*", async (c, next) => {
    c.set("trace", childTrace());
    c.set("client", "test");
    await next();
  });
  app.get(
    "/files/:name",
    filesHandler({
      routing: () => routing,
      nameFormat: TEST_NAME_FORMAT,
      fullMeta: () => false,
      metrics: new GatewayMetrics(),
      log,
    }),
  );
  return app;
}

Deno.test("files handler: a retriever that is down costs a few log lines, not one per request", async () => {
  const lines: string[] = [];
  const log = new Logger("gateway", { level: "debug", sink: (line) => lines.push(line) });
  let forwarded = 0;
  const down: RetrieverTarget = {
    id: "r0",
    range: { start: 0, end: 15 },
    location: "http://127.0.0.1:9",
    forward() {
      forwarded++;
      return Promise.reject(new DesUnavailableError("retriever r0 does not answer"));
    },
    ready: () => Promise.resolve("down"),
  };
  const app = filesApp(down, log);
  app.onError((_err, c) => c.text("unavailable", 503));
  const names = new NameGenerator({ ...TEST_NAME_FORMAT, nodeId: 1 });
  for (let i = 0; i < 50; i++) {
    const res = await app.request(`/files/${names.next()}`);
    assertEquals(res.status, 503);
    await res.body?.cancel();
  }
  assertEquals(forwarded, 50);
  const warned = lines.filter((l) => l.includes('"retriever unavailable"'));
  assert(warned.length >= 1 && warned.length <= 5, `${warned.length} lines for 50 failures`);
});

Deno.test("files handler: a retriever's damaged-file 502 keeps its type; other 5xx stay generic", async () => {
  const answers: Response[] = [];
  const target: RetrieverTarget = {
    id: "r0",
    range: { start: 0, end: 15 },
    location: "http://127.0.0.1:9",
    forward: () => Promise.resolve(answers.shift()!),
    ready: () => Promise.resolve("ok"),
  };
  const app = filesApp(target, new Logger("gateway", { level: "error" }));
  const names = new NameGenerator({ ...TEST_NAME_FORMAT, nodeId: 1 });
  const secret = JSON.stringify({ detail: "s3://bucket/internal/key.des" });
  answers.push(
    new Response(secret, { status: 502, headers: { "x-des-problem": "damaged-file" } }),
    new Response(secret, { status: 502 }),
  );
  const damaged = await app.request(`/files/${names.next()}`);
  assertEquals(damaged.status, 502);
  const problem = await damaged.json();
  assertEquals(problem.type, "https://des.dev/problems/damaged-file");
  assert(!JSON.stringify(problem).includes("internal"), JSON.stringify(problem));
  const other = await app.request(`/files/${names.next()}`);
  assertEquals([other.status, (await other.json()).type], [
    502,
    "https://des.dev/problems/upstream",
  ]);
});

Deno.test("files handler: hop-by-hop fields, fixed or named in Connection, stay at the hop", async () => {
  const target: RetrieverTarget = {
    id: "r0",
    range: { start: 0, end: 15 },
    location: "http://127.0.0.1:9",
    forward: () =>
      Promise.resolve(
        new Response("bytes", {
          headers: {
            "connection": "x-hop-secret, X-Other",
            "keep-alive": "timeout=5",
            "x-hop-secret": "internal",
            "x-other": "internal",
            "etag": '"e1"',
          },
        }),
      ),
    ready: () => Promise.resolve("ok"),
  };
  const app = filesApp(target, new Logger("gateway", { level: "error" }));
  const names = new NameGenerator({ ...TEST_NAME_FORMAT, nodeId: 1 });
  const res = await app.request(`/files/${names.next()}`);
  assertEquals(res.status, 200);
  assertEquals(await res.text(), "bytes");
  for (const field of ["connection", "keep-alive", "x-hop-secret", "x-other"]) {
    assertEquals(res.headers.get(field), null, field);
  }
  assertEquals(res.headers.get("etag"), '"e1"');
});
