/**
 * Request counts of the read path, through CountingRangeSource and through
 * a real HTTP server on a random port: a cold open is one request (two when
 * the tail is bigger than the suffix read), a file read is exactly one.
 */

import assert from "node:assert/strict";
import { DesFormatError, DesNotFoundError, DesUnavailableError } from "../core/errors.ts";
import {
  type ContainerSink,
  CountingRangeSource,
  DesReader,
  DesWriter,
  FileRangeSource,
  HttpRangeSource,
  MemoryRangeSource,
  VERIFY_CHUNK_BYTES,
} from "../format/mod.ts";
import { readAll } from "../store/object_store.ts";

const text = (value: string) => new TextEncoder().encode(value);

async function container(count: number, bodyBytes = 8): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const sink: ContainerSink = {
    write: (chunk) => Promise.resolve(void chunks.push(chunk.slice())),
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
  const writer = await DesWriter.create(sink);
  for (let i = 0; i < count; i++) {
    const body = new Uint8Array(bodyBytes).fill(i & 0xff);
    await writer.add(`file-${i}`, body, { contentType: "application/octet-stream" });
  }
  await writer.finish();
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

Deno.test("requests: cold open of a small container is 1, readFile is exactly 1", async () => {
  const source = new CountingRangeSource(new MemoryRangeSource(await container(10)));
  const reader = await DesReader.open(source);
  assert.deepEqual(source.calls.map((c) => c.method), ["readSuffix"]);
  source.reset();
  assert.deepEqual(await reader.readFile("file-3"), new Uint8Array(8).fill(3));
  assert.deepEqual(source.calls, [{
    method: "read",
    offset: reader.find("file-3")!.dataOffset,
    length: 8,
  }]);
  source.reset();
  await readAll(await reader.stream("file-4"));
  await readAll(await reader.stream("file-5", { offset: 2, length: 3 }));
  assert.equal(source.count, 2);
  source.reset();
  reader.find("file-9");
  reader.meta(reader.find("file-9")!);
  [...reader.entries()];
  assert.equal(source.count, 0, "lookups and meta need no request");
});

Deno.test("requests: a tail bigger than suffixBytes costs exactly one more read", async () => {
  const bytes = await container(300);
  const source = new CountingRangeSource(new MemoryRangeSource(bytes));
  const reader = await DesReader.open(source, { suffixBytes: 4096 });
  const tailLength = bytes.byteLength - reader.footer.metaOffset;
  assert.ok(tailLength > 4096, `tail ${tailLength}`);
  assert.deepEqual(source.calls, [
    { method: "readSuffix", length: 4096 },
    { method: "read", offset: reader.footer.metaOffset, length: tailLength - 4096 },
  ]);
  assert.equal(reader.entryCount, 300);
  source.reset();
  assert.deepEqual(await reader.readFile("file-299"), new Uint8Array(8).fill(299 & 0xff));
  assert.equal(source.count, 1);

  const exact = new CountingRangeSource(new MemoryRangeSource(bytes));
  await DesReader.open(exact, { suffixBytes: tailLength });
  assert.equal(exact.count, 1, "a suffix of exactly the tail length is enough");
  const short = new CountingRangeSource(new MemoryRangeSource(bytes));
  await DesReader.open(short, { suffixBytes: tailLength - 1 });
  assert.deepEqual(short.calls.map((c) => [c.method, c.length]), [
    ["readSuffix", tailLength - 1],
    ["read", 1],
  ]);
});

Deno.test("requests: fromTail needs no I/O, then a read is 1 request", async () => {
  const bytes = await container(20);
  const opened = await DesReader.open(new MemoryRangeSource(bytes));
  const source = new CountingRangeSource(new MemoryRangeSource(bytes));
  const reader = DesReader.fromTail(source, opened.tail.slice(), opened.size);
  assert.equal(source.count, 0);
  assert.equal(reader.entryCount, 20);
  assert.deepEqual(await reader.readFile("file-7"), new Uint8Array(8).fill(7));
  assert.equal(source.count, 1);
  const corrupt = opened.tail.slice();
  corrupt[10] ^= 4;
  assert.throws(() => DesReader.fromTail(source, corrupt, opened.size), {
    name: "DesChecksumError",
  });
  assert.throws(
    () => DesReader.fromTail(source, opened.tail.subarray(1), opened.size),
    DesFormatError,
  );
});

Deno.test("requests: verify reads DATA in chunks of VERIFY_CHUNK_BYTES", async () => {
  const bytes = await container(40, 256 * 1024);
  const source = new CountingRangeSource(new MemoryRangeSource(bytes));
  const reader = await DesReader.open(source);
  source.reset();
  const progress: number[] = [];
  const report = await reader.verify((p) => progress.push(p.bytesDone));
  const expected = Math.ceil(reader.footer.metaOffset / VERIFY_CHUNK_BYTES);
  assert.equal(expected, 2);
  assert.equal(report.requests, expected);
  assert.equal(source.count, expected);
  assert.equal(report.ok, true);
  assert.equal(report.filesChecked, 40);
  assert.deepEqual(progress, [VERIFY_CHUNK_BYTES, reader.footer.metaOffset]);
});

Deno.test("requests: FileRangeSource open is 1 request, a read is 1", async () => {
  const path = await Deno.makeTempFile({ prefix: "des-format-", suffix: ".des" });
  try {
    await Deno.writeFile(path, await container(5));
    const file = await FileRangeSource.open(path);
    const source = new CountingRangeSource(file);
    const reader = await DesReader.open(source);
    assert.deepEqual(await reader.readFile("file-2"), new Uint8Array(8).fill(2));
    assert.equal(source.count, 2);
    await assert.rejects(file.read(reader.size - 2, 4), DesFormatError);
    file.close();
  } finally {
    await Deno.remove(path);
  }
});

type Mode = "ranges" | "ignore-ranges" | "missing" | "broken";

/** A minimal HTTP server with Range support, on a random free port. */
function serve(bytes: Uint8Array) {
  const state = { mode: "ranges" as Mode, ranges: [] as (string | null)[] };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const range = request.headers.get("range");
    state.ranges.push(range);
    if (state.mode === "missing") return new Response("no", { status: 404 });
    if (state.mode === "broken") return new Response("oops", { status: 503 });
    const size = bytes.byteLength;
    const match = range && /^bytes=(\d*)-(\d*)$/.exec(range);
    if (state.mode === "ignore-ranges" || !match) {
      return new Response(bytes.slice(), { status: 200 });
    }
    let start: number, end: number;
    if (match[1] === "") {
      start = Math.max(0, size - Number(match[2]));
      end = size - 1;
    } else {
      start = Number(match[1]);
      end = Math.min(size - 1, match[2] === "" ? size - 1 : Number(match[2]));
    }
    if (start >= size) {
      return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
    }
    return new Response(bytes.slice(start, end + 1), {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${size}` },
    });
  });
  const url = `http://127.0.0.1:${server.addr.port}/c.des`;
  return { server, state, url };
}

Deno.test("HttpRangeSource: open is 1 GET, readFile is 1 GET with an exact Range", async () => {
  const bytes = await container(10);
  const { server, state, url } = serve(bytes);
  try {
    const reader = await DesReader.open(new HttpRangeSource(url), { suffixBytes: 100_000 });
    assert.deepEqual(state.ranges, ["bytes=-100000"]);
    assert.equal(reader.size, bytes.byteLength);
    const entry = reader.find("file-6")!;
    assert.deepEqual(await reader.readFile(entry), new Uint8Array(8).fill(6));
    assert.deepEqual(
      await readAll(await reader.stream(entry, { offset: 1, length: 2 })),
      Uint8Array.of(6, 6),
    );
    assert.deepEqual(state.ranges.slice(1), [
      `bytes=${entry.dataOffset}-${entry.dataOffset + 7}`,
      `bytes=${entry.dataOffset + 1}-${entry.dataOffset + 2}`,
    ]);

    const small = await DesReader.open(new HttpRangeSource(url), { suffixBytes: 300 });
    assert.equal(small.entryCount, 10);
    assert.equal(state.ranges.length, 5, "tail larger than 300 bytes: one more ranged GET");

    const source = new HttpRangeSource(url);
    await assert.rejects(source.read(bytes.byteLength - 2, 10), DesFormatError);
    await assert.rejects(source.read(bytes.byteLength + 5, 10), DesFormatError);
  } finally {
    await server.shutdown();
  }
});

Deno.test("HttpRangeSource: a 200 is accepted only for the whole resource; 404 and 503", async () => {
  const bytes = await container(3);
  const { server, state, url } = serve(bytes);
  try {
    state.mode = "ignore-ranges";
    const source = new HttpRangeSource(url, { headers: { authorization: "Bearer t" } });
    const reader = await DesReader.open(source);
    assert.equal(reader.entryCount, 3, "suffix larger than the file: the whole body is fine");
    await assert.rejects(reader.readFile("file-1"), {
      name: "DesFormatError",
      message: /200 instead of 206/,
    });
    assert.deepEqual(await source.read(0, bytes.byteLength), bytes);
    await assert.rejects(DesReader.open(source, { suffixBytes: 100 }), DesFormatError);

    state.mode = "missing";
    await assert.rejects(DesReader.open(source), DesNotFoundError);
    state.mode = "broken";
    await assert.rejects(source.read(0, 10), DesUnavailableError);
  } finally {
    await server.shutdown();
  }
  await assert.rejects(new HttpRangeSource(url).read(0, 1), DesUnavailableError);
});

Deno.test("sources: reads past the end are DesFormatError, bad arguments DesInputError", async () => {
  const source = new MemoryRangeSource(text("0123456789"));
  assert.deepEqual(await source.readSuffix(4), { bytes: text("6789"), size: 10 });
  assert.deepEqual(await source.readSuffix(40), { bytes: text("0123456789"), size: 10 });
  assert.deepEqual(await source.read(2, 3), text("234"));
  await assert.rejects(source.read(8, 3), DesFormatError);
  await assert.rejects(source.read(-1, 3), { name: "DesInputError" });
  await assert.rejects(source.stream(0, 11), DesFormatError);
  assert.deepEqual(await readAll(await source.stream(3, 4)), text("3456"));
  await assert.rejects(DesReader.open(new MemoryRangeSource(new Uint8Array(100))), DesFormatError);
  await assert.rejects(DesReader.open(new MemoryRangeSource(new Uint8Array(0))), DesFormatError);
  await assert.rejects(DesReader.open(source, { suffixBytes: 10 }), { name: "DesInputError" });
});
