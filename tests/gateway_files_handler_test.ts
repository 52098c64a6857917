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
  const routing = RoutingTable.build([down], 16);
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
