/**
 * The body length of a response: the noted one when its builder noted it
 * (a response whose headers are never read), else its `Content-Length`.
 */
import { assertEquals } from "./_helpers/assert.ts";
import { bodyLength, noteBodyLength } from "../core/body_length.ts";

Deno.test("body length: the noted length, else Content-Length, else 0", async () => {
  const bytes = new Uint8Array(7);
  const noted = noteBodyLength(
    new Response(bytes, { headers: { "content-length": "7" } }),
    7,
  );
  assertEquals(bodyLength(noted), 7);
  // A noted length wins over the header (the builder knows the body it sent).
  assertEquals(bodyLength(noteBodyLength(new Response(null), 3)), 3);
  assertEquals(bodyLength(new Response(bytes, { headers: { "content-length": "7" } })), 7);
  assertEquals(bodyLength(new Response(null)), 0);
  await noted.body?.cancel();
});
