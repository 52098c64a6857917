import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import { RequestSlots } from "../core/request_slots.ts";

class Late extends Error {}
const late = () => new Late("late");

Deno.test("request slots: places are taken and given back first come, first served", async () => {
  const slots = new RequestSlots(2);
  const a = slots.tryTake();
  const b = slots.tryTake();
  assert(a !== undefined && b !== undefined);
  assertEquals([slots.taken, slots.tryTake()], [2, undefined]);
  const order: string[] = [];
  const c = slots.wait(5000, late).then((release) => (order.push("c"), release));
  const d = slots.wait(5000, late).then((release) => (order.push("d"), release));
  assertEquals(slots.waiting, 2);
  a();
  a(); // twice: nothing more
  const releaseC = await c;
  assertEquals([order, slots.taken, slots.waiting], [["c"], 2, 1]);
  // A free place is not taken past a request that waits.
  b();
  const releaseD = await d;
  assertEquals(order, ["c", "d"]);
  releaseC();
  releaseD();
  assertEquals([slots.taken, slots.waiting], [0, 0]);
});

Deno.test("request slots: a wait that times out or is aborted takes no place", async () => {
  const slots = new RequestSlots(1);
  const held = slots.tryTake();
  assert(held !== undefined);
  await assertRejects(() => slots.wait(30, late), Late);
  const abort = new AbortController();
  const aborted = slots.wait(5000, late, abort.signal);
  abort.abort(new Error("gone"));
  await assertRejects(() => aborted, Error, "gone");
  await assertRejects(() => slots.wait(5000, late, AbortSignal.abort(new Error("already"))));
  assertEquals(slots.waiting, 0);
  held();
  assertEquals(slots.taken, 0);
  const again = slots.tryTake();
  assert(again !== undefined, "the place came back");
  again();
});
