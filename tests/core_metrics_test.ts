import { assertEquals, assertMatch } from "./_helpers/assert.ts";
import { Registry } from "../core/metrics.ts";
import { Logger } from "../core/log.ts";

Deno.test("metrics: counters, gauges and histograms render in Prometheus text format", () => {
  const r = new Registry();
  const reads = r.counter("des_reads_total", "Files read");
  reads.inc({ status: 200 });
  reads.inc({ status: 200 }, 2);
  reads.inc({ status: 404 });
  r.gauge("des_cache_entries", "Entries").set(7);
  const h = r.histogram("des_read_seconds", "Read latency", [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const text = r.render();
  assertMatch(text, /# TYPE des_reads_total counter/);
  assertMatch(text, /des_reads_total\{status="200"\} 3/);
  assertMatch(text, /des_reads_total\{status="404"\} 1/);
  assertMatch(text, /des_cache_entries 7/);
  assertMatch(text, /des_read_seconds_bucket\{le="0.1"\} 1/);
  assertMatch(text, /des_read_seconds_bucket\{le="1"\} 2/);
  assertMatch(text, /des_read_seconds_bucket\{le="\+Inf"\} 3/);
  assertMatch(text, /des_read_seconds_count 3/);
  assertEquals(reads.get({ status: 200 }), 3);
  assertEquals(r.counter("des_reads_total", "again"), reads);
});

Deno.test("metrics: label values are escaped", () => {
  const r = new Registry();
  r.counter("x_total", "x").inc({ path: 'a"b\\c\nd' });
  assertMatch(r.render(), /x_total\{path="a\\"b\\\\c\\nd"\} 1/);
});

Deno.test("log: one JSON object per line with fixed and per-call fields", () => {
  const lines: string[] = [];
  const log = new Logger("test", { level: "info", sink: (l) => lines.push(l) });
  log.debug("hidden");
  log.child({ traceId: "abc" }).info("hello", { n: 1n, err: new Error("boom") });
  assertEquals(lines.length, 1);
  const obj = JSON.parse(lines[0]);
  assertEquals(obj.component, "test");
  assertEquals(obj.traceId, "abc");
  assertEquals(obj.msg, "hello");
  assertEquals(obj.n, "1");
  assertEquals(obj.err, { name: "Error", message: "boom" });
});

Deno.test("metrics: collectors run before every render; label values are escaped", () => {
  const registry = new Registry();
  const gauge = registry.gauge("des_test_items", "Items");
  let items = 1;
  registry.onCollect(() => gauge.set(items));
  assertMatch(registry.render(), /^des_test_items 1$/m);
  items = 7;
  assertMatch(registry.render(), /^des_test_items 7$/m);
  const counter = registry.counter("des_test_total", "Things");
  counter.inc({ b: 'say "hi"\n', a: "x\\y" });
  assertMatch(registry.render(), /^des_test_total\{a="x\\\\y",b="say \\"hi\\"\\n"\} 1$/m);
});

Deno.test("metrics: a resolved series is the same series as its labels", () => {
  const r = new Registry({ processMetrics: false });
  const reads = r.counter("des_reads_total", "Files read");
  const ok = reads.series({ status: 200, method: "GET" });
  ok.inc();
  ok.inc(2);
  reads.inc({ method: "GET", status: 200 });
  assertEquals(reads.get({ status: 200, method: "GET" }), 4);
  const h = r.histogram("des_read_seconds", "Read latency", [0.1, 1]);
  const get = h.series({ method: "GET" });
  get.observe(0.05);
  h.observe(2, { method: "GET" });
  assertEquals(h.count({ method: "GET" }), 2);
  const text = r.render();
  assertMatch(text, /^des_reads_total\{method="GET",status="200"\} 4$/m);
  assertMatch(text, /^des_read_seconds_bucket\{method="GET",le="0.1"\} 1$/m);
  assertMatch(text, /^des_read_seconds_bucket\{method="GET",le="\+Inf"\} 2$/m);
});

Deno.test("log: a bigint nested in a field is written as a string", () => {
  const lines: string[] = [];
  const log = new Logger("test", { level: "info", sink: (l) => lines.push(l) });
  log.info("nested", { deep: { n: 2n, list: [3n] }, flat: 4n });
  const obj = JSON.parse(lines[0]);
  assertEquals(obj.deep, { n: "2", list: ["3"] });
  assertEquals(obj.flat, "4");
});
