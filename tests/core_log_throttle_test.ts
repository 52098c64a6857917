/** Error lines of one repeating cause are rate-limited per key, with the count kept. */

import { assertEquals } from "./_helpers/assert.ts";
import { Logger } from "../core/log.ts";
import { LogThrottle } from "../core/log_throttle.ts";

Deno.test("LogThrottle: a burst per key per window, then the suppressed count", () => {
  const lines: Record<string, unknown>[] = [];
  let now = 0;
  const log = new Logger("t", { level: "debug", sink: (l) => lines.push(JSON.parse(l)) });
  const throttle = new LogThrottle(log, { burst: 3, windowMs: 1000, now: () => now });
  for (let i = 0; i < 100; i++) throttle.log("error", "s3", "read failed", { i });
  throttle.log("error", "db", "reload failed");
  assertEquals(lines.map((l) => [l.msg, l.i]), [
    ["read failed", 0],
    ["read failed", 1],
    ["read failed", 2],
    ["reload failed", undefined],
  ]);
  now = 1000;
  throttle.log("error", "s3", "read failed", { i: 100 });
  assertEquals(lines.at(-1)?.suppressed, 97);
  assertEquals(lines.at(-1)?.i, 100);
});
