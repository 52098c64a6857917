/**
 * Header parsers against hostile values: every parser the read path runs on
 * client-controlled headers must stay linear. Each check runs a 64 KiB value
 * built to make a backtracking regular expression quadratic and bounds the
 * time far above the linear cost (well under a millisecond here), so only a
 * blow-up can fail it.
 *
 * @module
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  MAX_RANGE_HEADER_LENGTH,
  parseEntityTag,
  parseEntityTagList,
  parseHttpDate,
  parseRange,
  planResponse,
} from "../core/http_range.ts";
import { parseTraceparent } from "../core/trace.ts";

const SIZE = 64 * 1024;
/** Far above the linear cost of parsing 64 KiB; a quadratic parser takes seconds. */
const BOUND_MS = 750;

function timed(label: string, fn: () => unknown): void {
  const started = performance.now();
  fn();
  const ms = performance.now() - started;
  assert(ms < BOUND_MS, `${label} took ${ms.toFixed(0)} ms on a ${SIZE}-byte value`);
}

const hostile = [
  "bytes=" + " ".repeat(SIZE) + "x",
  "bytes=0" + " ".repeat(SIZE) + "x",
  "bytes=" + "0".repeat(SIZE) + "x",
  "bytes=" + " 1 ".repeat(SIZE / 3) + "-x",
  "bytes=" + "1-2,".repeat(SIZE / 4),
  " ".repeat(SIZE) + "=0-1",
  '"' + "a".repeat(SIZE),
  'W/"'.repeat(SIZE / 3),
  '"'.repeat(SIZE),
  "00-" + "0".repeat(SIZE),
  "00-" + "a".repeat(32) + "-" + "b".repeat(16) + "-01-" + "-".repeat(SIZE),
  "Sun, " + " ".repeat(SIZE) + "GMT",
];

Deno.test("parseRange: a long value is ignored whole, a short one still parses", () => {
  assertEquals(parseRange("bytes=0-1" + " ".repeat(MAX_RANGE_HEADER_LENGTH), 10), {
    kind: "ignored",
    reason: "too-long",
  });
  assertEquals(parseRange(" bytes = \t0 - 1 \t", 10), {
    kind: "satisfiable",
    range: { start: 0, end: 1 },
  });
  assertEquals(parseRange("bytes=" + " ".repeat(200) + "x", 10), {
    kind: "ignored",
    reason: "malformed",
  });
});

Deno.test("header parsers stay linear on 64 KiB hostile values", () => {
  for (const value of hostile) {
    const label = JSON.stringify(value.slice(0, 12));
    timed(`parseRange ${label}`, () => parseRange(value, 1000));
    timed(`parseEntityTag ${label}`, () => parseEntityTag(value));
    timed(`parseEntityTagList ${label}`, () => parseEntityTagList(value));
    timed(`parseHttpDate ${label}`, () => parseHttpDate(value));
    timed(`parseTraceparent ${label}`, () => parseTraceparent(value));
    const rep = { etag: { weak: false, opaque: "e" }, lastModified: 0, size: 1000 };
    for (const h of ["range", "if-range", "if-match", "if-none-match", "if-modified-since"]) {
      timed(
        `planResponse ${h} ${label}`,
        () => planResponse("GET", new Headers({ [h]: value }), rep),
      );
    }
  }
});
