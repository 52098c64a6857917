/**
 * The packer's in-flight bounds as pure logic: the container pipeline of a
 * shard finishes at most `limit` containers at once, records them in the
 * order they were built whatever order they finish in, and keeps the first
 * failure; build slots let at most `size` shards be built at once.
 */

import { BuildSlots } from "../pack/build_slots.ts";
import { ContainerPipeline } from "../pack/container_pipeline.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_helpers/assert.ts";

/** A promise resolved or rejected from outside. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void, reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => (resolve = res, reject = rej));
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("container pipeline: at most `limit` finishing, recorded in build order", async () => {
  const gates = [0, 1, 2, 3].map(() => deferred());
  const recorded: number[] = [];
  let running = 0, most = 0;
  const pipeline = new ContainerPipeline<number>(async (i) => {
    running++;
    most = Math.max(most, running);
    await gates[i].promise;
    running--;
    return () => Promise.resolve(void recorded.push(i));
  }, 2);
  await pipeline.submit(0);
  await pipeline.submit(1);
  const third = pipeline.submit(2); // waits: two are finishing
  await tick();
  assertEquals(running, 2);
  gates[1].resolve(); // the second finishes first …
  await third;
  await tick();
  assertEquals(recorded, [], "… but is not recorded before the first");
  const fourth = pipeline.submit(3);
  gates[0].resolve();
  await fourth;
  gates[3].resolve();
  gates[2].resolve();
  await pipeline.drain();
  assertEquals(recorded, [0, 1, 2, 3]);
  assertEquals(most, 2);
});

Deno.test("container pipeline: the first failure is thrown by check, drain and the next submit", async () => {
  const recorded: number[] = [];
  const pipeline = new ContainerPipeline<number>(async (i) => {
    await tick();
    if (i === 1) throw new Error("upload failed");
    return i === 2 ? undefined : () => Promise.resolve(void recorded.push(i));
  }, 3);
  await pipeline.submit(0);
  await pipeline.submit(1);
  await pipeline.submit(2); // aborted: nothing to record
  await assertRejects(() => pipeline.drain(), Error, "upload failed");
  assertThrows(() => pipeline.check(), Error, "upload failed");
  await assertRejects(() => pipeline.submit(3), Error, "upload failed");
  assertEquals(recorded, [0]);
  assertThrows(() => new ContainerPipeline(() => Promise.resolve(undefined), 0));
});

Deno.test("build slots: at most `size` held; a release hands the slot to the next waiter once", async () => {
  const slots = new BuildSlots(2);
  const a = await slots.acquire();
  const b = await slots.acquire();
  let third: (() => void) | undefined;
  const waiting = slots.acquire().then((release) => (third = release));
  await tick();
  assert(third === undefined, "a third shard waits");
  a();
  a(); // a second release of the same slot frees nothing more
  await waiting;
  let fourth: (() => void) | undefined;
  const later = slots.acquire().then((release) => (fourth = release));
  await tick();
  assert(fourth === undefined, "still two held");
  b();
  await later;
  third!();
  fourth!();
  assertThrows(() => new BuildSlots(0));
});
