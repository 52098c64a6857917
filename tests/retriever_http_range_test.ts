import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  formatEntityTag,
  formatHttpDate,
  parseEntityTag,
  parseEntityTagList,
  parseHttpDate,
  parseRange,
  planResponse,
  type Representation,
  strongMatch,
  weakMatch,
} from "../core/http_range.ts";

const ok = (start: number, end: number) => ({
  kind: "satisfiable" as const,
  range: { start, end },
});

Deno.test("parseRange: absent header", () => {
  assertEquals(parseRange(null, 10), { kind: "none" });
  assertEquals(parseRange(undefined, 10), { kind: "none" });
});

Deno.test("parseRange: single ranges", () => {
  const cases: [string, number, unknown][] = [
    ["bytes=0-0", 10, ok(0, 0)],
    ["bytes=0-9", 10, ok(0, 9)],
    ["bytes=2-5", 10, ok(2, 5)],
    ["bytes=5-", 10, ok(5, 9)],
    ["bytes=0-", 10, ok(0, 9)],
    ["bytes=9-", 10, ok(9, 9)],
    ["bytes=5-100", 10, ok(5, 9)],
    ["bytes=-1", 10, ok(9, 9)],
    ["bytes=-3", 10, ok(7, 9)],
    ["bytes=-10", 10, ok(0, 9)],
    ["bytes=-100", 10, ok(0, 9)],
    ["BYTES=1-2", 10, ok(1, 2)],
    ["bytes = 1 - 2 ", 10, ok(1, 2)],
    ["bytes=007-008", 10, ok(7, 8)],
  ];
  for (const [header, size, expected] of cases) {
    assertEquals(parseRange(header, size), expected, header);
  }
});

Deno.test("parseRange: unsatisfiable ranges", () => {
  assertEquals(parseRange("bytes=10-", 10), { kind: "unsatisfiable", reason: "start-past-end" });
  assertEquals(parseRange("bytes=10-20", 10), {
    kind: "unsatisfiable",
    reason: "start-past-end",
  });
  assertEquals(parseRange("bytes=5-2", 10), { kind: "unsatisfiable", reason: "reversed" });
  assertEquals(parseRange("bytes=-0", 10), { kind: "unsatisfiable", reason: "zero-suffix" });
});

Deno.test("parseRange: malformed, other units and multiple ranges are ignored", () => {
  const malformed = [
    "garbage",
    "bytes=",
    "bytes=-",
    "bytes=abc",
    "bytes=1-2-3",
    "bytes=1.5-2",
    "bytes=+1-2",
    "bytes=0x10-",
    "bytes=1-2,",
    "bytes=99999999999999999999-",
  ];
  for (const h of malformed) {
    assertEquals(parseRange(h, 10), { kind: "ignored", reason: "malformed" }, h);
  }
  assertEquals(parseRange("items=0-1", 10), { kind: "ignored", reason: "unit" });
  assertEquals(parseRange("bytes=0-1,3-4", 10), { kind: "ignored", reason: "multiple" });
  assertEquals(parseRange("bytes=0-1, -2", 10), { kind: "ignored", reason: "multiple" });
});

Deno.test("parseRange: zero-byte representation", () => {
  assertEquals(parseRange("bytes=0-0", 0), { kind: "ignored", reason: "empty-representation" });
  assertEquals(parseRange("bytes=0-", 0), { kind: "ignored", reason: "empty-representation" });
  assertEquals(parseRange("bytes=-5", 0), { kind: "ignored", reason: "empty-representation" });
  assertEquals(parseRange("bytes=1-", 0), { kind: "unsatisfiable", reason: "start-past-end" });
});

Deno.test("entity tags: parse, format, compare", () => {
  assertEquals(parseEntityTag('"abc"'), { weak: false, opaque: "abc" });
  assertEquals(parseEntityTag(' W/"abc" '), { weak: true, opaque: "abc" });
  assertEquals(parseEntityTag('""'), { weak: false, opaque: "" });
  assertEquals(parseEntityTag("abc"), undefined);
  assertEquals(parseEntityTag('"a"b"'), undefined);
  assertEquals(parseEntityTag('w/"abc"'), undefined);
  assertEquals(formatEntityTag({ weak: true, opaque: "x" }), 'W/"x"');
  assertEquals(parseEntityTagList(" * "), "*");
  assertEquals(parseEntityTagList('"a", W/"b",bogus, "c"'), [
    { weak: false, opaque: "a" },
    { weak: true, opaque: "b" },
    { weak: false, opaque: "c" },
  ]);
  assertEquals(parseEntityTagList("bogus"), []);
  const s = { weak: false, opaque: "1" };
  const w = { weak: true, opaque: "1" };
  assert(strongMatch(s, s));
  assert(!strongMatch(s, w) && !strongMatch(w, w));
  assert(weakMatch(s, w) && weakMatch(w, w));
  assert(!weakMatch(s, { weak: false, opaque: "2" }));
});

Deno.test("HTTP dates: the three forms, invalid ones rejected", () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37);
  assertEquals(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), t);
  assertEquals(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), t);
  assertEquals(parseHttpDate("Sun Nov  6 08:49:37 1994"), t);
  assertEquals(formatHttpDate(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  for (
    const bad of [
      "",
      "yesterday",
      "Sun, 06 Nov 1994 08:49:37 CET",
      "Sun, 31 Feb 1994 08:49:37 GMT",
      "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 25:49:37 GMT",
      "1994-11-06T08:49:37Z",
    ]
  ) {
    assertEquals(parseHttpDate(bad), undefined, bad);
  }
});

const ETAG = '"0123abcd"';
const MTIME = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const REP: Representation = {
  etag: { weak: false, opaque: "0123abcd" },
  lastModified: MTIME,
  size: 100,
};
const LM = "Tue, 02 Jan 2024 03:04:05 GMT";
const EARLIER = "Tue, 02 Jan 2024 03:04:04 GMT";
const LATER = "Tue, 02 Jan 2024 03:04:06 GMT";

function plan(headers: Record<string, string>, method: "GET" | "HEAD" = "GET") {
  return planResponse(method, new Headers(headers), REP);
}

Deno.test("planResponse: plain and ranged GET, HEAD ignores Range", () => {
  assertEquals(plan({}), { status: 200 });
  assertEquals(plan({ range: "bytes=0-0" }), { status: 206, range: { start: 0, end: 0 } });
  assertEquals(plan({ range: "bytes=-1" }), { status: 206, range: { start: 99, end: 99 } });
  assertEquals(plan({ range: "bytes=100-" }), { status: 416 });
  assertEquals(plan({ range: "bytes=9-3" }), { status: 416 });
  assertEquals(plan({ range: "nonsense" }), { status: 200 });
  assertEquals(plan({ range: "bytes=0-1,5-6" }), { status: 200 });
  assertEquals(plan({ range: "bytes=0-0" }, "HEAD"), { status: 200 });
  assertEquals(plan({ range: "bytes=100-" }, "HEAD"), { status: 200 });
});

Deno.test("planResponse: If-None-Match (weak comparison, *) and If-Modified-Since", () => {
  assertEquals(plan({ "if-none-match": ETAG }), { status: 304 });
  assertEquals(plan({ "if-none-match": `W/${ETAG}` }), { status: 304 });
  assertEquals(plan({ "if-none-match": `"x", ${ETAG}` }), { status: 304 });
  assertEquals(plan({ "if-none-match": "*" }), { status: 304 });
  assertEquals(plan({ "if-none-match": '"other"' }), { status: 200 });
  assertEquals(plan({ "if-none-match": ETAG }, "HEAD"), { status: 304 });
  assertEquals(plan({ "if-modified-since": LM }), { status: 304 });
  assertEquals(plan({ "if-modified-since": LATER }), { status: 304 });
  assertEquals(plan({ "if-modified-since": EARLIER }), { status: 200 });
  assertEquals(plan({ "if-modified-since": "not a date" }), { status: 200 });
  // If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.1.3).
  assertEquals(plan({ "if-none-match": '"other"', "if-modified-since": LATER }), { status: 200 });
  // A 304 wins over a range.
  assertEquals(plan({ "if-none-match": ETAG, range: "bytes=0-0" }), { status: 304 });
  assertEquals(plan({ "if-none-match": '"other"', range: "bytes=0-0" }), {
    status: 206,
    range: { start: 0, end: 0 },
  });
});

Deno.test("planResponse: If-Match (strong) and If-Unmodified-Since", () => {
  assertEquals(plan({ "if-match": ETAG }), { status: 200 });
  assertEquals(plan({ "if-match": "*" }), { status: 200 });
  assertEquals(plan({ "if-match": `"x", ${ETAG}` }), { status: 200 });
  assertEquals(plan({ "if-match": `W/${ETAG}` }), { status: 412, failed: "If-Match" });
  assertEquals(plan({ "if-match": '"other"' }), { status: 412, failed: "If-Match" });
  assertEquals(plan({ "if-match": "garbage" }), { status: 412, failed: "If-Match" });
  assertEquals(plan({ "if-unmodified-since": LM }), { status: 200 });
  assertEquals(plan({ "if-unmodified-since": EARLIER }), {
    status: 412,
    failed: "If-Unmodified-Since",
  });
  assertEquals(plan({ "if-unmodified-since": "garbage" }), { status: 200 });
  // If-Match present: If-Unmodified-Since is not evaluated.
  assertEquals(plan({ "if-match": ETAG, "if-unmodified-since": EARLIER }), { status: 200 });
  // 412 beats 304 and 416.
  assertEquals(plan({ "if-match": '"other"', "if-none-match": ETAG }), {
    status: 412,
    failed: "If-Match",
  });
  assertEquals(plan({ "if-match": '"other"', range: "bytes=999-" }), {
    status: 412,
    failed: "If-Match",
  });
});

Deno.test("planResponse: If-Range with strong ETag or exact date", () => {
  const r = { range: "bytes=10-19" };
  const partial = { status: 206 as const, range: { start: 10, end: 19 } };
  assertEquals(plan({ ...r, "if-range": ETAG }), partial);
  assertEquals(plan({ ...r, "if-range": '"other"' }), { status: 200 });
  assertEquals(plan({ ...r, "if-range": `W/${ETAG}` }), { status: 200 });
  assertEquals(plan({ ...r, "if-range": LM }), partial);
  assertEquals(plan({ ...r, "if-range": LATER }), { status: 200 });
  assertEquals(plan({ ...r, "if-range": "garbage" }), { status: 200 });
  // A failed If-Range also cancels a 416: the full representation is sent.
  assertEquals(plan({ range: "bytes=500-", "if-range": '"other"' }), { status: 200 });
  assertEquals(plan({ "if-range": ETAG }), { status: 200 });
});

Deno.test("planResponse: zero-byte representation", () => {
  const empty = { ...REP, size: 0 };
  const p = (range: string) => planResponse("GET", new Headers({ range }), empty);
  assertEquals(p("bytes=0-0"), { status: 200 });
  assertEquals(p("bytes=-1"), { status: 200 });
  assertEquals(p("bytes=5-"), { status: 416 });
});
