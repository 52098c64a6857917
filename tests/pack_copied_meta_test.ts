import assert from "node:assert/strict";
import { DesReader } from "../format/reader.ts";
import { DesWriter } from "../format/writer.ts";
import { MemoryObjectStore } from "../store/memory.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { copiedMeta } from "../pack/container_build.ts";

Deno.test("compaction copy: a file without an mtime keeps its Last-Modified, the old container's creation time", async () => {
  const store = new MemoryObjectStore();
  const writer = await DesWriter.create(await store.createWriter("c.des"), {
    shard: 0,
    bigFileThreshold: 8,
    bigFiles: { store, prefix: "big/" },
  });
  const bytes = new TextEncoder().encode("0123456789abcdef");
  await writer.add("a-file-with-mtime", bytes.subarray(0, 4), {
    mtime: 1_700_000_000_000,
    contentType: "text/plain",
  });
  await writer.add("b-file-without-mtime", bytes.subarray(0, 4), { attrs: { k: "v" } });
  await writer.add("c-big-file-without-mtime", bytes);
  await writer.finish();
  const reader = await DesReader.open(new StoreRangeSource(store, "c.des"), { bigFiles: store });
  const [withMtime, without, big] = [...reader.entries()];
  const createdAt = reader.descriptor.createdAt;
  assert.ok(createdAt > 0);

  assert.deepEqual(copiedMeta(reader, withMtime), {
    ...reader.meta(withMtime),
    mtime: 1_700_000_000_000,
  });
  assert.deepEqual(copiedMeta(reader, without), { ...reader.meta(without), mtime: createdAt });
  assert.equal(reader.meta(without).mtime, undefined, "the reader's own record is untouched");
  // The external key of a big file is the writer's to set; everything else is kept.
  assert.ok(reader.meta(big).externalKey);
  const { externalKey: _, ...bigMeta } = reader.meta(big);
  assert.deepEqual(copiedMeta(reader, big), { ...bigMeta, mtime: createdAt });
});
