import { Registry } from "../core/metrics.ts";
import { backoffDelay, sleep } from "../mark/backoff.ts";
import { databaseReady, markerApp } from "../mark/server.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";

Deno.test("readyz is 503 naming each source that does not answer", async () => {
  const app = markerApp(new Registry(), {
    good: databaseReady({ query: () => Promise.resolve([]) }),
    down: databaseReady({ query: () => Promise.reject(new Error("connection refused")) }),
    slow: databaseReady({ query: () => new Promise(() => {}) }, 10),
  });
  const res = await app.request("/readyz");
  assertEquals(res.status, 503);
  assertEquals(await res.json(), {
    status: "not ready",
    checks: { good: "ok", down: "connection refused", slow: "no answer within 10 ms" },
  });
  assertEquals(res.headers.get("retry-after"), "5");
});

Deno.test("metrics are served in the Prometheus text format", async () => {
  const registry = new Registry();
  registry.counter("des_marker_rows_marked_total", "rows").inc({ source: "a" }, 3);
  const res = await markerApp(registry, {}).request("/metrics");
  assertEquals(res.status, 200);
  assert(res.headers.get("content-type")!.startsWith("text/plain; version=0.0.4"));
  assert((await res.text()).includes('des_marker_rows_marked_total{source="a"} 3'));
});

Deno.test("backoff doubles up to the cap and keeps at least half as a floor", () => {
  const policy = (r: number) => ({ baseMs: 100, maxMs: 1000, random: () => r });
  assertEquals([1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy(0))), [50, 100, 200, 400, 500]);
  assertEquals([1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy(0.999999))), [
    100,
    200,
    400,
    800,
    1000,
  ]);
});

Deno.test("sleep returns at once when aborted", async () => {
  const controller = new AbortController();
  const pending = sleep(3_600_000, controller.signal);
  controller.abort();
  await pending;
  await sleep(3_600_000, controller.signal);
});
