/**
 * Round trips through DesWriter and DesReader: edge-case files and names,
 * 100,000 tiny files, big files in a separate store, stream bodies, input
 * validation, abort, and local files via FileSink / FileRangeSource.
 */

import assert from "node:assert/strict";
import {
  DesChecksumError,
  DesFormatError,
  DesInputError,
  DesNotFoundError,
} from "../core/errors.ts";
import {
  type ContainerSink,
  DesReader,
  DesWriter,
  type DesWriterOptions,
  FileRangeSource,
  FileSink,
  type IndexEntry,
  MemoryRangeSource,
} from "../format/mod.ts";
import { readAll } from "../store/object_store.ts";
import { MemoryObjectStore } from "../store/memory.ts";

const text = (value: string) => new TextEncoder().encode(value);

/** A sink that keeps the container in memory. */
function memorySink() {
  const chunks: Uint8Array[] = [];
  const state = { closed: false, aborted: false };
  const sink: ContainerSink = {
    write: (chunk) => Promise.resolve(void chunks.push(chunk.slice())),
    close: () => Promise.resolve(void (state.closed = true)),
    abort: () => Promise.resolve(void (state.aborted = true)),
  };
  const bytes = () => {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  };
  return { sink, state, bytes };
}

async function build(
  files: [string, Uint8Array][],
  options: DesWriterOptions = {},
): Promise<Uint8Array> {
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink, options);
  for (const [name, body] of files) await writer.add(name, body);
  await writer.finish();
  return bytes();
}

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

Deno.test("round trip: a container with no files", async () => {
  const bytes = await build([]);
  const reader = await DesReader.open(new MemoryRangeSource(bytes));
  assert.equal(reader.entryCount, 0);
  assert.deepEqual([...reader.entries()], []);
  assert.equal(reader.find("x"), undefined);
  assert.equal(reader.descriptor.firstName, undefined);
  assert.equal((await reader.verify()).ok, true);
});

Deno.test("round trip: empty file and 1-byte file", async () => {
  const bytes = await build([["empty", new Uint8Array(0)], ["one", Uint8Array.of(0x7f)]]);
  const reader = await DesReader.open(new MemoryRangeSource(bytes));
  assert.deepEqual(await reader.readFile("empty"), new Uint8Array(0));
  assert.deepEqual(await reader.readFile("one"), Uint8Array.of(0x7f));
  assert.deepEqual(await readAll(await reader.stream("empty")), new Uint8Array(0));
  assert.deepEqual(await readAll(await reader.stream("one")), Uint8Array.of(0x7f));
  assert.equal(reader.find("empty")?.crc32c, 0);
  assert.equal(reader.find("one")?.crc32c, 0x7df63b78, "CRC-32C of 0x7f");
  assert.equal((await reader.verify()).ok, true);
});

Deno.test("round trip: 100,000 tiny files added in shuffled order", async () => {
  const count = 100_000;
  const order = Array.from({ length: count }, (_, i) => i);
  let seed = 12345;
  for (let i = count - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const name = (i: number) => `f/${i.toString().padStart(6, "0")}`;
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink);
  for (const i of order) await writer.add(name(i), text(`body ${i}`), { mtime: i });
  const summary = await writer.finish();
  assert.equal(summary.entryCount, count);
  assert.equal(summary.firstName, name(0));
  assert.equal(summary.lastName, name(count - 1));

  const reader = await DesReader.open(new MemoryRangeSource(bytes()), {
    suffixBytes: summary.tailLength,
  });
  assert.equal(reader.entryCount, count);
  let i = 0;
  for (const entry of reader.entries()) assert.equal(entry.name, name(i++));
  for (let k = 0; k < 1000; k++) {
    const n = order[k];
    const entry = reader.find(name(n));
    assert.ok(entry, name(n));
    assert.deepEqual(await reader.readFile(entry), text(`body ${n}`));
    assert.equal(reader.meta(entry).mtime, n);
  }
  assert.equal(reader.find("f/100000"), undefined);
  const report = await reader.verify();
  assert.equal(report.ok, true);
  assert.equal(report.filesChecked, count);
});

Deno.test("round trip: unicode names sort by UTF-8 bytes and are found", async () => {
  const names = ["ß", "日本語/ファイル.txt", "\uFF61half-width", "😀 emoji.bin", "a", "Z", "a b"];
  const bytes = await build(names.map((n) => [n, text(`content of ${n}`)]));
  const reader = await DesReader.open(new MemoryRangeSource(bytes));
  const listed = [...reader.entries()].map((e) => e.name);
  // U+FF61 is 0xEF.. in UTF-8 and sorts before U+1F600 (0xF0..), unlike UTF-16 order.
  assert.deepEqual(listed, [
    "Z",
    "a",
    "a b",
    "ß",
    "日本語/ファイル.txt",
    "\uFF61half-width",
    "😀 emoji.bin",
  ]);
  for (const n of names) assert.deepEqual(await reader.readFile(n), text(`content of ${n}`));
});

Deno.test("round trip: 1024-byte names are accepted, 1025 bytes are not", async () => {
  const ascii = "n".repeat(1024);
  const twoByte = "é".repeat(512);
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink);
  await writer.add(ascii, text("ascii"));
  await writer.add(twoByte, text("two-byte"));
  await assert.rejects(writer.add("n".repeat(1025), text("x")), DesInputError);
  await assert.rejects(writer.add(twoByte + "a", text("x")), DesInputError);
  await writer.finish();
  const reader = await DesReader.open(new MemoryRangeSource(bytes()));
  assert.deepEqual(await reader.readFile(ascii), text("ascii"));
  assert.deepEqual(await reader.readFile(twoByte), text("two-byte"));
  assert.equal(reader.entryCount, 2);
});

Deno.test("writer: bad names and duplicates are DesInputError and leave the writer usable", async () => {
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink);
  await writer.add("ok", text("1"));
  for (const bad of ["", "/abs", "..", "a/../b", "../a", "a/..", "a\0b", "\uD800x"]) {
    await assert.rejects(writer.add(bad, text("x")), DesInputError, JSON.stringify(bad));
  }
  await assert.rejects(writer.add("ok", text("2")), (e: unknown) => {
    assert.ok(e instanceof DesInputError);
    assert.match(e.message, /duplicate/);
    assert.equal(e.context.name, "ok");
    return true;
  });
  await writer.add("a/..b/.c", text("dots are fine"));
  await writer.finish();
  const reader = await DesReader.open(new MemoryRangeSource(bytes()));
  assert.deepEqual([...reader.entries()].map((e) => e.name), ["a/..b/.c", "ok"]);
  assert.deepEqual(await reader.readFile("ok"), text("1"));
});

Deno.test("writer: meta records round-trip; bad or oversized meta is DesInputError", async () => {
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink);
  const meta = {
    contentType: "image/png",
    mtime: 1_690_000_000_123,
    originalLocation: "s3://orig/x.png",
    source: "photos",
    attrs: JSON.parse('{"owner":"alice","__proto__":"kept"}') as Record<string, string>,
  };
  const added = await writer.add("x.png", text("png"), meta);
  await assert.rejects(writer.add("big-meta", text("x"), { attrs: { v: "x".repeat(65_536) } }), {
    name: "DesInputError",
    message: /above the limit of 65536/,
  });
  await assert.rejects(
    writer.add("bad", text("x"), { mtime: "yesterday" as unknown as number }),
    DesInputError,
  );
  await assert.rejects(writer.add("bad", text("x"), { externalKey: "k" }), DesInputError);
  await assert.rejects(writer.add("bad", text("x"), { size: 2 }), DesInputError);
  const summary = await writer.finish();
  assert.equal(summary.entryCount, 1);
  const reader = await DesReader.open(new MemoryRangeSource(bytes()));
  const entry = reader.find("x.png")!;
  assert.deepEqual(reader.meta(entry), meta);
  assert.equal(Object.hasOwn(reader.meta(entry).attrs!, "__proto__"), true);
  assert.equal(added.metaOffset, entry.metaOffset, "add() result completed by finish()");
  assert.deepEqual(added, entry);
});

Deno.test("writer: stream bodies need meta.size and exactly that many bytes", async () => {
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink);
  const entry = await writer.add("s", streamOf(text("hello "), text("stream")), { size: 12 });
  assert.equal(entry.size, 12);
  await assert.rejects(writer.add("nosize", streamOf(text("abc"))), DesInputError);
  await assert.rejects(writer.add("short", streamOf(text("abc")), { size: 4 }), {
    name: "DesInputError",
    message: /shorter/,
  });
  await assert.rejects(writer.add("long", streamOf(text("abc"), text("de")), { size: 4 }), {
    name: "DesInputError",
    message: /longer/,
  });
  await writer.add("after", text("still works"));
  await writer.finish();
  const reader = await DesReader.open(new MemoryRangeSource(bytes()));
  assert.deepEqual([...reader.entries()].map((e) => e.name), ["after", "s"]);
  assert.deepEqual(await reader.readFile("s"), text("hello stream"));
  assert.equal((await reader.verify()).ok, true);
});

Deno.test("big files: exactly at the threshold stays inline, one byte above goes external", async () => {
  const store = new MemoryObjectStore();
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink, {
    bigFileThreshold: 16,
    bigFiles: { store, prefix: "arch/" },
  });
  const at = Uint8Array.from({ length: 16 }, (_, i) => i);
  const above = Uint8Array.from({ length: 17 }, (_, i) => 100 + i);
  const streamed = Uint8Array.from({ length: 40 }, (_, i) => 200 + i);
  assert.equal((await writer.add("at", at)).external, false);
  assert.equal((await writer.add("above/ü name", above)).external, true);
  assert.equal(
    (await writer.add("streamed", streamOf(streamed.subarray(0, 9), streamed.subarray(9)), {
      size: 40,
    })).external,
    true,
  );
  await assert.rejects(
    writer.add("bad-stream", streamOf(streamed), { size: 41 }),
    DesInputError,
  );
  const summary = await writer.finish();
  const id = summary.containerId;
  assert.deepEqual(summary.bigFileKeys, [
    `arch/_bigFiles/${id}/above%2F%C3%BC%20name`,
    `arch/_bigFiles/${id}/streamed`,
  ]);
  const keys: string[] = [];
  for await (const object of store.list("arch/")) keys.push(object.key);
  assert.deepEqual(keys, summary.bigFileKeys, "the failed stream left no object behind");
  assert.equal(summary.dataBytes, 16, "only the inline file is in DATA");

  const reader = await DesReader.open(new MemoryRangeSource(bytes()), { bigFiles: store });
  const entry = reader.find("above/ü name")!;
  assert.equal(entry.external, true);
  assert.equal(entry.dataOffset, 0);
  assert.equal(reader.meta(entry).externalKey, summary.bigFileKeys[0]);
  assert.deepEqual(await reader.readFile("at"), at);
  assert.deepEqual(await reader.readFile(entry), above);
  assert.deepEqual(await reader.readFile("streamed"), streamed);
  assert.deepEqual(await readAll(await reader.stream("streamed")), streamed);
  assert.deepEqual(
    await readAll(await reader.stream("streamed", { offset: 5, length: 10 })),
    streamed.subarray(5, 15),
  );
  const report = await reader.verify();
  assert.equal(report.ok, true);
  assert.equal(report.filesChecked, 3);

  const withoutStore = await DesReader.open(new MemoryRangeSource(bytes()));
  await assert.rejects(withoutStore.readFile(entry), DesInputError);
  assert.deepEqual((await withoutStore.verify()).externalSkipped, ["above/ü name", "streamed"]);
});

Deno.test("big files: a corrupted big-file object is a DesChecksumError naming the file", async () => {
  const store = new MemoryObjectStore();
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink, { bigFileThreshold: 4, bigFiles: { store } });
  await writer.add("big", text("0123456789"));
  const { bigFileKeys } = await writer.finish();
  assert.match(bigFileKeys[0], /^_bigFiles\/[0-9a-f]{32}\/big$/);
  await store.put(bigFileKeys[0], text("0123456780"));
  const reader = await DesReader.open(new MemoryRangeSource(bytes()), { bigFiles: store });
  await assert.rejects(reader.readFile("big"), (e: unknown) => {
    assert.ok(e instanceof DesChecksumError);
    assert.equal(e.context.name, "big");
    return true;
  });
  const report = await reader.verify();
  assert.deepEqual(report.badFiles.map((b) => [b.name, b.reason]), [["big", "crc32c mismatch"]]);
});

Deno.test("big files: without a bigFiles store a file above the threshold is refused", async () => {
  const writer = await DesWriter.create(memorySink().sink, { bigFileThreshold: 2 });
  await assert.rejects(writer.add("x", text("abc")), DesInputError);
  await writer.add("y", text("ab"));
});

Deno.test("writer: abort aborts the sink and deletes big-file objects", async () => {
  const store = new MemoryObjectStore();
  const { sink, state } = memorySink();
  const writer = await DesWriter.create(sink, { bigFileThreshold: 1, bigFiles: { store } });
  await writer.add("a", text("abc"));
  await writer.add("b", text("def"));
  let listed = 0;
  for await (const _ of store.list("_bigFiles/")) listed++;
  assert.equal(listed, 2);
  await writer.abort();
  assert.equal(state.aborted, true);
  assert.equal(state.closed, false);
  for await (const object of store.list("")) assert.fail(`left behind: ${object.key}`);
  await assert.rejects(writer.add("c", text("x")), DesInputError);
  await assert.rejects(writer.finish(), DesInputError);
});

Deno.test("reader: stream() checks the CRC of a full file but not of a sub-range", async () => {
  const bytes = await build([["a", text("abcdefgh")], ["b", text("zz")]]);
  const reader = await DesReader.open(new MemoryRangeSource(bytes));
  const entry = reader.find("a")!;
  assert.deepEqual(await readAll(await reader.stream(entry)), text("abcdefgh"));
  assert.deepEqual(
    await readAll(await reader.stream(entry, { offset: 2, length: 3 })),
    text("cde"),
  );
  await assert.rejects(reader.stream(entry, { offset: 6, length: 3 }), DesInputError);

  const corrupt = bytes.slice();
  corrupt[entry.dataOffset] ^= 0x01;
  const bad = await DesReader.open(new MemoryRangeSource(corrupt));
  await assert.rejects(readAll(await bad.stream("a")), (e: unknown) => {
    assert.ok(e instanceof DesChecksumError);
    assert.equal(e.context.name, "a");
    return true;
  });
  assert.deepEqual(await readAll(await bad.stream("a", { offset: 1, length: 7 })), text("bcdefgh"));
  await assert.rejects(bad.readFile("a"), DesChecksumError);
  assert.deepEqual(await bad.readFile("b"), text("zz"));
  await assert.rejects(bad.readFile("missing"), DesNotFoundError);
});

Deno.test("local files: FileSink writes atomically, FileRangeSource reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-format-" });
  try {
    const path = `${dir}/c.des`;
    const sink = await FileSink.create(path);
    const writer = await DesWriter.create(sink);
    const big = crypto.getRandomValues(new Uint8Array(60_000));
    await writer.add("big", big);
    await writer.add("small", text("small"));
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound, "not visible before finish");
    const summary = await writer.finish();
    assert.equal((await Deno.stat(path)).size, summary.size);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["c.des"],
      "no temporary file left",
    );
    const source = await FileRangeSource.open(path);
    try {
      const reader = await DesReader.open(source, { suffixBytes: 100 });
      const results = await Promise.all([reader.readFile("big"), reader.readFile("small")]);
      assert.deepEqual(results, [big, text("small")]);
      assert.deepEqual(await readAll(await reader.stream("big")), big);
      assert.equal((await reader.verify()).ok, true);
    } finally {
      source.close();
    }

    const aborted = await FileSink.create(`${dir}/d.des`);
    const w2 = await DesWriter.create(aborted);
    await w2.add("x", text("x"));
    await w2.abort();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["c.des"]);
    await assert.rejects(FileRangeSource.open(`${dir}/none.des`), DesNotFoundError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writer: entries returned by add describe what the reader finds", async () => {
  const { sink, bytes } = memorySink();
  const writer = await DesWriter.create(sink, { shard: 3, source: "src", attrs: { k: "v" } });
  const added: IndexEntry[] = [];
  for (const name of ["c", "a", "b"]) added.push(await writer.add(name, text(name.repeat(3))));
  assert.equal(writer.entryCount, 3);
  assert.equal(writer.bytesWritten, 64 + 9);
  await writer.finish();
  const reader = await DesReader.open(new MemoryRangeSource(bytes()));
  for (const entry of added) assert.deepEqual(reader.find(entry.name), entry);
  assert.equal(reader.descriptor.shard, 3);
  assert.equal(reader.descriptor.source, "src");
  assert.deepEqual(reader.descriptor.attrs, { k: "v" });
  assert.equal(reader.descriptor.containerId, writer.containerId);
  assert.equal(reader.descriptor.createdAt, writer.createdAt);
});

Deno.test("FileRangeSource: small (synchronous) and large reads give the file's bytes; past the end is a DesFormatError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-file-source-" });
  const path = `${dir}/f.bin`;
  const bytes = new Uint8Array(300_000);
  for (let at = 0; at < bytes.length; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  await Deno.writeFile(path, bytes);
  const source = await FileRangeSource.open(path);
  try {
    for (const [offset, length] of [[0, 10], [123_456, 65536], [5, 200_000], [299_990, 10]]) {
      assert.deepEqual(await source.read(offset, length), bytes.subarray(offset, offset + length));
    }
    await assert.rejects(() => source.read(299_990, 11), DesFormatError);
    await assert.rejects(() => source.read(100_000, 200_001), DesFormatError);
    assert.deepEqual(await source.read(0, 4), bytes.subarray(0, 4), "usable after a short read");
  } finally {
    source.close();
    await Deno.remove(dir, { recursive: true });
  }
});
