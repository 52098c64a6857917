/**
 * `BufferedSink`: chunks of the configured size reach the sink in order;
 * its buffer is reused only for a sink that releases its chunks, so a sink
 * that keeps them (an upload part in memory) never sees them overwritten.
 */

import { BufferedSink } from "../format/buffered_sink.ts";
import type { ContainerSink } from "../format/sink.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";

/** A sink that keeps every chunk it is given. */
function keepingSink(releasesChunks: boolean): ContainerSink & { chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    releasesChunks,
    write: (chunk) => {
      chunks.push(chunk);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
}

async function writeBytes(sink: ContainerSink): Promise<Uint8Array> {
  const buffered = new BufferedSink(sink, 16);
  const all = new Uint8Array(100).map((_, i) => i);
  for (let at = 0; at < all.length; at += 7) await buffered.write(all.subarray(at, at + 7));
  await buffered.close();
  return all;
}

Deno.test("buffered sink: a sink that may keep chunks gets a fresh buffer each time", async () => {
  const sink = keepingSink(false);
  const all = await writeBytes(sink);
  const joined = sink.chunks.flatMap((c) => [...c]);
  assertEquals(joined, [...all]);
  assertEquals(new Set(sink.chunks.map((c) => c.buffer)).size, sink.chunks.length);
});

Deno.test("buffered sink: a sink that releases its chunks gets one buffer, reused", async () => {
  const sink = keepingSink(true);
  const seen: number[] = [];
  const write = sink.write;
  sink.write = (chunk) => {
    seen.push(...chunk); // what the sink writes out before the write resolves
    return write(chunk);
  };
  const all = await writeBytes(sink);
  assertEquals(seen, [...all]);
  assert(sink.chunks.length > 2, `${sink.chunks.length} chunks`);
  assertEquals(new Set(sink.chunks.map((c) => c.buffer)).size, 1);
});
