import assert from "node:assert/strict";
import { Logger } from "../core/log.ts";

/** The line as the object it must be: head keys, fixed fields, then the line's fields. */
function expected(
  time: string,
  level: string,
  msg: string,
  fixed: Record<string, unknown>,
  fields: Record<string, unknown>,
): string {
  const line: Record<string, unknown> = { time, level, msg, ...fixed };
  for (const k in fields) {
    const v = fields[k];
    line[k] = v instanceof Error
      ? { name: v.name, message: v.message }
      : typeof v === "bigint"
      ? v.toString()
      : v;
  }
  return JSON.stringify(line, (_k, v) => typeof v === "bigint" ? v.toString() : v);
}

Deno.test("log lines carry every field in order, whichever way they are built", () => {
  const lines: string[] = [];
  const log = new Logger("gateway", { level: "debug", sink: (line) => lines.push(line) })
    .child({ retriever: "r1", 'quote"d': 'a"b' });
  const fixed = { component: "gateway", retriever: "r1", 'quote"d': 'a"b' };
  const cases: Record<string, unknown>[] = [
    {},
    { method: "GET", status: 200, bytes: 4096, ok: true, none: null, gone: undefined },
    { nested: { a: [1, "x\n"], b: { c: "\u0000" } }, text: 'tab\tand "quotes"' },
    { error: new TypeError("bad") },
    { big: 12n, nestedBig: { n: 3n } },
    { retriever: "overridden", status: 500 },
    { msg: "field named msg", time: "field named time" },
    { "1": "index-like key", b: 2 },
  ];
  for (const fields of cases) {
    lines.length = 0;
    log.info("request", fields);
    assert.equal(lines.length, 1);
    // The line's own time, unless a field of the same name took its place.
    const time = "time" in fields ? "" : JSON.parse(lines[0]).time;
    if (time !== "") assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(lines[0], expected(time, "info", "request", fixed, fields));
  }
});

Deno.test("log lines never carry a URL password", () => {
  const lines: string[] = [];
  const log = new Logger("db", { sink: (line) => lines.push(line) });
  log.warn("connect failed", { url: "postgres://des:hunter2@db/des?password=x" });
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0], /hunter2|password=x/);
});
