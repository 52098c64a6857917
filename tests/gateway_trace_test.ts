import { assert, assertEquals, assertMatch, assertNotEquals } from "./_helpers/assert.ts";
import { childTrace, formatTraceparent, parseTraceparent } from "../core/trace.ts";

const VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

Deno.test("parseTraceparent accepts a valid header and round-trips it", () => {
  const ctx = parseTraceparent(VALID);
  assertEquals(ctx, {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    flags: "01",
  });
  assertEquals(formatTraceparent(ctx!), VALID);
  assertEquals(parseTraceparent(` ${VALID} `)?.flags, "01");
});

Deno.test("parseTraceparent rejects what the spec says to ignore", () => {
  const bad = [
    null,
    undefined,
    "",
    "garbage",
    VALID.toUpperCase(),
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    `${VALID}-extra`,
    "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  ];
  for (const v of bad) assertEquals(parseTraceparent(v), undefined, String(v));
});

Deno.test("parseTraceparent accepts future versions with extra fields", () => {
  const ctx = parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what");
  assertEquals(ctx?.flags, "00");
});

Deno.test("childTrace keeps the trace, makes a new span; a root starts a sampled trace", () => {
  const parent = parseTraceparent(VALID)!;
  const child = childTrace(parent);
  assertEquals(child.traceId, parent.traceId);
  assertEquals(child.flags, parent.flags);
  assertNotEquals(child.spanId, parent.spanId);
  const root = childTrace();
  assertMatch(formatTraceparent(root), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert(parseTraceparent(formatTraceparent(root)) !== undefined);
  assertNotEquals(childTrace().traceId, root.traceId);
  // Ids are drawn from a buffer of random bytes refilled as it runs out: across many refills
  // every id is well formed and new.
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const { traceId, spanId } = childTrace();
    assertMatch(`${traceId}-${spanId}`, /^[0-9a-f]{32}-[0-9a-f]{16}$/);
    seen.add(traceId).add(spanId);
  }
  assertEquals(seen.size, 4000);
});
