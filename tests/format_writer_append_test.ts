/**
 * `DesWriter.append`, `appendRun`, the paged META log and the packed pending
 * index: the INDEX built from
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
import { PagedLog } from "../format/paged_log.ts";
import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";

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

Deno.test("appendRun writes the same container as add, with or without outside checksums", async () => {
  const files = Array.from({ length: 300 }, (_, i) => ({
    name: `r/${(i * 7919) % 300}.bin`,
    body: crypto.getRandomValues(new Uint8Array((i * 37) % 5000)),
  }));
  const options = {
    containerId: "0123456789abcdef0123456789abcdef",
    now: () => 1_700_000_000_000,
    bigFileThreshold: 8000,
  };
  const viaAdd = memorySink();
  const a = await DesWriter.create(viaAdd.sink, options);
  for (const f of files) await a.add(f.name, f.body, { mtime: 5 });
  await a.finish();
  const viaRun = memorySink();
  const b = await DesWriter.create(viaRun.sink, options);
  for (let first = 0; first < files.length; first += 100) {
    const part = files.slice(first, first + 100);
    const data = new Uint8Array(part.reduce((n, f) => n + f.body.byteLength, 0));
    const sha = new Uint8Array(part.length * 32);
    let at = 0;
    part.forEach((f, i) => {
      data.set(f.body, at);
      at += f.body.byteLength;
      sha.set(sha256(f.body), i * 32);
    });
    const run = part.map((f) => ({ name: f.name, size: f.body.byteLength, meta: { mtime: 5 } }));
    const checksums = first === 100
      ? undefined
      : { crc32c: part.map((f) => crc32c(f.body)), sha256: sha };
    await b.appendRun(run, data, checksums);
  }
  await b.finish();
  assertEquals(viaRun.bytes(), viaAdd.bytes());
});

Deno.test("appendRun checks every file first: a bad run writes nothing and the writer goes on", async () => {
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink, { bigFileThreshold: 10 });
  await writer.append("a", new Uint8Array(2));
  const meta = {};
  const bad = [
    [{ name: "b", size: 1, meta }, { name: "a", size: 1, meta }], // duplicate of an earlier file
    [{ name: "b", size: 1, meta }, { name: "b", size: 1, meta }], // duplicate inside the run
    [{ name: "b", size: 11, meta }], // above the big-file threshold
    [{ name: "b", size: 1, meta: { externalKey: "k" } }],
    [{ name: "", size: 1, meta }], // bad name
    [{ name: "b", size: 3, meta }], // sizes differ from the data length
  ];
  for (const run of bad) {
    const data = new Uint8Array(run.reduce((n, f) => n + Math.min(f.size, 2), 0));
    await assertRejects(() => writer.appendRun(run, data), DesInputError, undefined);
  }
  assertEquals(writer.entryCount, 1);
  await writer.appendRun(
    [{ name: "b", size: 1, meta }, { name: "c", size: 2, meta }],
    new Uint8Array(3),
  );
  assertEquals(writer.entryCount, 3);
  await writer.finish();
  const reader = await DesReader.open(new MemoryRangeSource(bytes()));
  assertEquals([...reader.entries()].map((e) => e.name), ["a", "b", "c"]);
  assertEquals((await reader.verify()).ok, true);
});

Deno.test("PendingIndex.has finds exactly the pushed names, across table growth", () => {
  const pending = new PendingIndex();
  const names = Array.from({ length: 5000 }, (_, i) => `n/${i.toString(36)}/é`);
  names.forEach((name, i) => {
    assertEquals(pending.has(encodeName(name)), false, name);
    pending.push({
      nameBytes: encodeName(name),
      flags: 0,
      dataOffset: i,
      size: 0,
      metaRelative: 0,
      metaLength: 0,
      crc32c: 0,
      sha256: new Uint8Array(32),
    });
  });
  for (const name of names) assertEquals(pending.has(encodeName(name)), true, name);
  for (const name of ["n", "n/", "n/0/", "n/0/e", "n/zzzz/é"]) {
    assertEquals(pending.has(encodeName(name)), false, name);
  }
});

Deno.test("PagedLog: records across page ends read back in order; encodePieces joins to encode", () => {
  const log = new PagedLog(64);
  const records = Array.from({ length: 50 }, (_, i) => new Uint8Array(i % 150).fill(i));
  const offsets = records.map((r) => log.append(r));
  const joined = new Uint8Array(log.length);
  let at = 0;
  for (const page of log.pages()) {
    joined.set(page, at);
    at += page.byteLength;
  }
  assertEquals(at, log.length);
  records.forEach((r, i) =>
    assertEquals(joined.subarray(offsets[i], offsets[i] + r.byteLength), r)
  );
  const pending = new PendingIndex();
  for (let i = 0; i < 300; i++) {
    pending.push({
      nameBytes: encodeName(`p/${(i * 37) % 300}`.repeat(1 + (i % 3))),
      flags: 0,
      dataOffset: i,
      size: i,
      metaRelative: i * 10,
      metaLength: 10,
      crc32c: i,
      sha256: new Uint8Array(32).fill(i),
    });
  }
  const order = pending.sortedOrder();
  const pieces = [...pending.encodePieces(order, 99, 200)];
  assert(pieces.length > 10, "several pieces");
  const whole = pending.encode(order, 99);
  assertEquals(whole.byteLength, pending.encodedLength);
  assertEquals(new Uint8Array(pieces.flatMap((p) => [...p])), whole);
});
