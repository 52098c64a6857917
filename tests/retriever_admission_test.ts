/** Second-hit admission of the byte cache (pure logic). */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { fnv1a, SecondHitAdmission } from "../retriever/admission.ts";

Deno.test("admission: a key is admitted on its second miss, once", () => {
  const a = new SecondHitAdmission(16);
  assertEquals(a.admit("x"), false);
  assertEquals(a.admit("x"), true);
  assertEquals(a.admit("x"), false, "admitting forgets the key");
});

Deno.test("admission: memory is bounded; the oldest keys are forgotten first", () => {
  const a = new SecondHitAdmission(100);
  for (let i = 0; i < 10_000; i++) a.admit(`scan-${i}`);
  assert(a.size <= 100);
  assertEquals(a.admit("scan-0"), false, "forgotten long ago");
  assertEquals(a.admit("scan-9999"), true, "still remembered");
});

Deno.test("admission: FNV-1a reference values", () => {
  assertEquals(fnv1a(""), 0x811c9dc5);
  assertEquals(fnv1a("a"), 0xe40c292c);
});
