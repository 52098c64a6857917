/** The bench's combined table, goal checks, wrk report parsing and stage breakdown (pure logic). */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { figureTable, goalMet } from "../bench/figures.ts";
import { parseWrk } from "../bench/http_tools.ts";
import { stagesOf } from "../bench/profile_stages.ts";

Deno.test("bench: goals read in their direction; the table has one row per figure", () => {
  const up = {
    suite: "s",
    name: "a",
    des: "2",
    baseline: "1",
    goal: { op: ">=", value: 1 },
  } as const;
  assertEquals(goalMet({ ...up, ratio: 1.5 }), true);
  assertEquals(goalMet({ ...up, ratio: 0.5 }), false);
  assertEquals(goalMet({ ...up, ratio: 0.4, goal: { op: "<=", value: 0.5 } }), true);
  assertEquals(goalMet({ ...up, ratio: undefined }), undefined);
  const table = figureTable([{ ...up, ratio: 0.5 }, { ...up, name: "b", ratio: 2 }]);
  assertEquals(table.length, 4);
  assert(table[2].includes("0.50×") && table[2].includes("**missed**"), table[2]);
  assert(table[3].includes("2.00×") && table[3].includes("met"), table[3]);
});

Deno.test("bench: wrk --latency report", () => {
  const r = parseWrk(`Running 10s test @ http://127.0.0.1:1234
  2 threads and 32 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.00ms
     99%   12.50ms
  197001 requests in 10.00s, 812.03MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  19700.10
Transfer/sec:     81.20MB
`);
  assertEquals(r.requests, 197001);
  assertEquals(r.rps, 19700.1);
  assertEquals(r.p50, 0.812);
  assertEquals(r.p99, 12.5);
  assertEquals(r.errors, 7);
});

Deno.test("bench: profile samples are charged to the deepest matching frame", () => {
  const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
    id,
    callFrame: { functionName, url },
    children,
  });
  const profile = {
    startTime: 1000,
    nodes: [
      frame(1, "(root)", "", [2, 5, 6]),
      frame(2, "handle", "file:///x/retriever/retriever.ts", [3]),
      frame(3, "info", "file:///x/core/log.ts", [4]),
      frame(4, "stringify", ""),
      frame(5, "(idle)", ""),
      frame(6, "(garbage collector)", ""),
    ],
    samples: [4, 4, 2, 5, 6],
    timeDeltas: [100, 100, 100, 100, 100],
  };
  // Samples at 1100, 1200, 1300, 1400, 1500; the window takes the 2nd to the 5th.
  const b = stagesOf(profile, 2, { from: 1150, to: 1500 });
  assertEquals(b.perRequest.logging, 50, "one logging sample of 100 µs, two requests");
  assertEquals(b.perRequest.runtime, 50);
  assertEquals(b.perRequest.gc, 50);
  assertEquals(b.total, 150, "the idle sample counts nowhere");
  const scaled = stagesOf(profile, 2, { from: 1150, to: 1500 }, 300);
  assertEquals(scaled.perRequest.logging, 100, "a third of the measured 300 µs");
  assertEquals(scaled.total, 300);
});
