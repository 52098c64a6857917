/** The scrubber's `--rate` parsing and its token bucket (pure logic, a fake clock). */

import { DesInputError } from "../core/errors.ts";
import { parseByteRate } from "../scrub/rate.ts";
import { TokenBucket } from "../scrub/token_bucket.ts";
import { assertEquals, assertThrows } from "./_helpers/assert.ts";

Deno.test("parseByteRate: sizes per second, with or without /s; bad input names an example", () => {
  assertEquals(parseByteRate("50MiB/s"), 50 * 1024 * 1024);
  assertEquals(parseByteRate("512KiB/s"), 512 * 1024);
  assertEquals(parseByteRate(" 1.5 MiB / s "), 1.5 * 1024 * 1024);
  assertEquals(parseByteRate("1048576"), 1048576);
  for (const bad of ["", "fast", "50MiB/h", "0/s", "-1MiB/s", "50 parsecs/s"]) {
    const e = assertThrows(() => parseByteRate(bad), DesInputError);
    assertEquals(e.message.includes("such as 50MiB/s"), true, e.message);
  }
});

Deno.test("TokenBucket: starts empty, saves at most the burst, waits off its debt", async () => {
  let now = 0;
  const waits: number[] = [];
  const wait = (ms: number) => {
    waits.push(ms);
    now += ms;
    return Promise.resolve();
  };
  const bucket = new TokenBucket(1000, 500, { now: () => now, wait });
  // 10 bytes at 1000 B/s from an empty bucket: a 10 ms debt.
  await bucket.take(10);
  assertEquals(waits, [10]);
  // Idle for 10 s saves only the burst: 500 bytes are free, 100 more cost 100 ms.
  now += 10_000;
  await bucket.take(500);
  assertEquals(waits, [10]);
  await bucket.take(100);
  assertEquals(waits, [10, 100]);
  // 3000 bytes at 1000 B/s take 3 s however they are split.
  const start = now;
  for (let i = 0; i < 30; i++) await bucket.take(100);
  assertEquals(Math.round(now - start), 3000);
  assertThrows(() => new TokenBucket(0), DesInputError);
});
