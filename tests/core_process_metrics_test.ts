import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { Registry } from "../core/metrics.ts";
import { openFds } from "../core/process_metrics.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";

function value(text: string, name: string): number {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
  assert(m, `${name} missing in\n${text}`);
  return Number(m[1]);
}

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* hold the event loop */ }
}

Deno.test("process metrics: CPU, memory, heap, descriptors and start time are read at scrape", () => {
  const registry = new Registry();
  const first = registry.render();
  assertMatch(first, /^# TYPE process_cpu_seconds_total counter$/m);
  assert(value(first, "process_resident_memory_bytes") > 1_000_000);
  assert(value(first, "process_heap_used_bytes") > 0);
  assert(value(first, "process_heap_total_bytes") >= value(first, "process_heap_used_bytes"));
  const start = value(first, "process_start_time_seconds");
  assert(start > Date.now() / 1000 - 3600 && start <= Date.now() / 1000 + 1, String(start));
  assert(value(first, "process_max_fds") > 0);

  const cpuBefore = value(first, "process_cpu_seconds_total");
  busy(300);
  const files = [0, 1, 2, 3, 4].map(() => Deno.openSync(new URL(import.meta.url).pathname));
  const second = registry.render();
  for (const f of files) f.close();
  // Busy work in between: the counter moved (how far depends on the machine's load).
  assert(value(second, "process_cpu_seconds_total") > cpuBefore, second);
  assert(
    value(second, "process_open_fds") >= value(first, "process_open_fds") + 5,
    `${value(first, "process_open_fds")} → ${value(second, "process_open_fds")}`,
  );
  assertEquals(openFds() !== undefined, true);
});

Deno.test("process metrics: a blocked event loop shows as lag, once", async () => {
  const registry = new Registry();
  registry.render();
  await new Promise((r) => setTimeout(r, 300)); // the 250 ms sampler is armed
  busy(600);
  await new Promise((r) => setTimeout(r, 300)); // it fires late, once
  const lag = value(registry.render(), "process_event_loop_lag_seconds");
  assert(lag >= 0.3, `lag ${lag}`);
  // The worst lag is per scrape: the next scrape starts again.
  assert(value(registry.render(), "process_event_loop_lag_seconds") < lag);
});

Deno.test("process metrics: every service registry has them; opting out leaves them out", () => {
  assertMatch(new GatewayMetrics().registry.render(), /^process_resident_memory_bytes \d+/m);
  const bare = new Registry({ processMetrics: false });
  bare.counter("des_x_total", "x").inc();
  assertEquals(bare.render().includes("process_"), false);
});
