/**
 * Coarse deadlines: each fires once, not before its time and within a
 * tick of it; a cancelled one never fires; with none pending no timer is
 * left (the test sanitizer fails the test on a leaked interval).
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { deadline, DEADLINE_TICK_MS } from "../core/deadlines.ts";
import { withTimeout } from "../core/timeouts.ts";

Deno.test("deadline: fires once after its time, cancelled ones never, no timer left", async () => {
  const fired: string[] = [];
  const started = performance.now();
  const firedAt: Record<string, number> = {};
  const at = (name: string) => () => {
    fired.push(name);
    firedAt[name] = performance.now() - started;
  };
  const cancelled = deadline(20, at("cancelled"));
  deadline(120, at("late"));
  deadline(30, at("early"));
  cancelled.cancel();
  cancelled.cancel();
  await new Promise((resolve) => deadline(200, () => resolve(undefined)));
  assertEquals(fired, ["early", "late"]);
  assert(firedAt.early >= 30 && firedAt.late >= 120, JSON.stringify(firedAt));
  // Within a tick of the time, with a very generous bound for a loaded machine.
  assert(firedAt.late < 120 + DEADLINE_TICK_MS + 5_000, JSON.stringify(firedAt));
});

Deno.test("withTimeout on deadlines: settles with the work, or rejects after the time", async () => {
  assertEquals(await withTimeout(Promise.resolve(7), 10_000, () => new Error("late")), 7);
  const started = performance.now();
  const error = await withTimeout(new Promise(() => {}), 40, () => new Error("too slow")).then(
    () => undefined,
    (e: Error) => e,
  );
  assertEquals(error?.message, "too slow");
  assert(performance.now() - started >= 40);
});
