/**
 * `DesWriter.append` and the packed pending index: the INDEX built from
 * packed entries is byte for byte what `encodeIndex` makes from the same
 * records; `append` with checksums computed elsewhere writes the same
 * container as `add`; checksums with a stream body are refused.
 */

import { DesInputError } from "../core/errors.ts";
import {
  type ContainerSink,
  crc32c,
  DesReader,
  DesWriter,
  encodeIndex,
  encodeName,
  MemoryRangeSource,
  sha256,
} from "../format/mod.ts";
import { PendingIndex } from "../format/pending_index.ts";
import { assertEquals, assertRejects } from "./_helpers/assert.ts";

function memorySink(): { sink: ContainerSink; bytes: () => Uint8Array } {
  const chunks: Uint8Array[] = [];
  return {
    sink: {
      write: (chunk) => Promise.resolve(void chunks.push(chunk.slice())),
      close: () => Promise.resolve(),
      abort: () => Promise.resolve(),
    },
    bytes: () => new Uint8Array(chunks.flatMap((c) => [...c])),
  };
}

Deno.test("PendingIndex.encode equals encodeIndex of the sorted records", () => {
  const names = ["b", "a/é", "a", "zz", "a/b", "ab", "\u{1f600}", "Z"];
  const pending = new PendingIndex();
  const records = names.map((name, i) => {
    const record = {
      nameBytes: encodeName(name),
      flags: i % 2,
      dataOffset: 64 + i * 1000,
      size: i * 1000,
      metaRelative: i * 50,
      metaLength: 50,
      crc32c: 0xfffffff0 + i,
      sha256: new Uint8Array(32).fill(i),
    };
    pending.push(record);
    return record;
  });
  const recordsStart = 123_456;
  const order = pending.sortedOrder();
  const expected = encodeIndex(
    [...records]
      .sort((a, b) => Buffer.compare(a.nameBytes, b.nameBytes))
      .map((r) => ({ ...r, metaOffset: recordsStart + r.metaRelative })),
  );
  assertEquals(pending.encode(order, recordsStart), expected);
  assertEquals(pending.nameAt(order[0]), "Z");
  assertEquals(pending.nameAt(order[order.length - 1]), "\u{1f600}");
});

Deno.test("append with outside checksums writes the same container as add", async () => {
  const files = Array.from({ length: 500 }, (_, i) => ({
    name: `f/${(i * 7919) % 500}.bin`,
    body: crypto.getRandomValues(new Uint8Array(i % 97)),
  }));
  const options = { containerId: "0123456789abcdef0123456789abcdef", now: () => 1_700_000_000_000 };
  const viaAdd = memorySink();
  const a = await DesWriter.create(viaAdd.sink, options);
  for (const f of files) await a.add(f.name, f.body, { mtime: 5 });
  await a.finish();
  const viaAppend = memorySink();
  const b = await DesWriter.create(viaAppend.sink, options);
  for (const [i, f] of files.entries()) {
    const checksums = i % 2 === 0 ? { crc32c: crc32c(f.body), sha256: sha256(f.body) } : undefined;
    await b.append(f.name, f.body, { mtime: 5 }, checksums);
  }
  await b.finish();
  assertEquals(viaAppend.bytes(), viaAdd.bytes());
  const reader = await DesReader.open(new MemoryRangeSource(viaAppend.bytes()));
  assertEquals((await reader.verify()).ok, true);
});

Deno.test("append refuses checksums that come with a stream body", async () => {
  const { sink } = memorySink();
  const writer = await DesWriter.create(sink);
  await assertRejects(
    () =>
      writer.append("s", ReadableStream.from([new Uint8Array(3)]), { size: 3 }, {
        crc32c: 0,
        sha256: new Uint8Array(32),
      }),
    DesInputError,
  );
  await writer.append("ok", new Uint8Array(1));
  assertEquals(writer.entryCount, 1);
});
