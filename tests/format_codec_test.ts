/**
 * Unit tests of the structure codecs and byte utilities: checksums against known
 * vectors, HEADER/FOOTER round trips and rejections, the versioning rule,
 * names, meta records and big-file keys.
 */

import assert from "node:assert/strict";
import { DesChecksumError, DesFormatError, DesInputError } from "../core/errors.ts";
import { toHex } from "../format/binary.ts";
import {
  bigFileKey,
  type ContainerSink,
  Crc32c,
  crc32c,
  decodeDescriptor,
  decodeFileMeta,
  decodeFooter,
  decodeHeader,
  DesReader,
  DesWriter,
  encodeFileMeta,
  encodeFooter,
  encodeHeader,
  type FooterFields,
  MemoryRangeSource,
  nameProblem,
  nameSegment,
  Sha256,
  sha256,
} from "../format/mod.ts";

const text = (value: string) => new TextEncoder().encode(value);

/** Bitwise reference CRC-32C, independent of the table-driven one. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

Deno.test("checksum: CRC-32C check value and agreement with a bitwise reference", () => {
  assert.equal(crc32c(text("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa, "RFC 3720 B.4: 32 bytes of zeros");
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43, "RFC 3720 B.4: 32 bytes of ones");
  const random = crypto.getRandomValues(new Uint8Array(4099));
  assert.equal(crc32c(random), referenceCrc32c(random));
});

Deno.test("checksum: CRC-32C of every length and alignment equals the bitwise reference", () => {
  const data = crypto.getRandomValues(new Uint8Array(200));
  for (let start = 0; start < 8; start++) {
    for (let length = 0; start + length <= data.length; length += start + 1) {
      const view = data.subarray(start, start + length);
      assert.equal(crc32c(view), referenceCrc32c(view), `offset ${start}, length ${length}`);
    }
  }
});

Deno.test("checksum: incremental CRC-32C and SHA-256 equal one-shot, interleaved", () => {
  const data = crypto.getRandomValues(new Uint8Array(10_000));
  const a = new Crc32c();
  const b = new Crc32c();
  const sha = new Sha256();
  for (let at = 0; at < data.length; at += 777) {
    a.update(data.subarray(at, at + 777));
    b.update(Uint8Array.of(at & 0xff));
    sha.update(data.subarray(at, at + 777));
  }
  assert.equal(a.digest(), crc32c(data));
  assert.equal(toHex(sha.digest()), toHex(sha256(data)));
  assert.equal(
    toHex(sha256(text("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(a.reset().digest(), 0);
});

Deno.test("header: encode/decode round trip; bad magic, version and CRC are rejected", () => {
  const id = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  const header = encodeHeader(id, 1_234_567_890_123);
  assert.equal(header.byteLength, 64);
  const decoded = decodeHeader(header);
  assert.equal(decoded.containerId, toHex(id));
  assert.equal(decoded.createdAt, 1_234_567_890_123);
  assert.deepEqual([decoded.major, decoded.minor, decoded.headerSize], [1, 0, 64]);

  const magic = header.slice();
  magic[3] = 0x54;
  assert.throws(() => decodeHeader(magic), DesFormatError);
  const flipped = header.slice();
  flipped[33] ^= 0x10;
  assert.throws(() => decodeHeader(flipped), DesChecksumError);
  const major = header.slice();
  major[8] = 2;
  assert.throws(() => decodeHeader(major), { name: "DesFormatError", message: /2\.0.*1\.x/ });
  assert.throws(() => decodeHeader(header.subarray(0, 63)), DesFormatError);
});

const FIELDS: FooterFields = {
  metaOffset: 100,
  metaLength: 50,
  indexOffset: 150,
  indexLength: 72 + 5,
  entryCount: 1,
  descriptorLength: 30,
  metaCrc32c: 0xdeadbeef,
  indexCrc32c: 0x01020304,
};
const SIZE = 150 + 77 + 64;

/** Re-seal a footer after editing its fields (fix the footer CRC). */
function reseal(footer: Uint8Array): Uint8Array {
  new DataView(footer.buffer, footer.byteOffset, 64)
    .setUint32(52, crc32c(footer.subarray(0, 52)), true);
  return footer;
}

Deno.test("footer: encode/decode round trip", () => {
  const footer = encodeFooter(FIELDS);
  assert.equal(footer.byteLength, 64);
  assert.equal(toHex(footer.subarray(56)), "0a1a0d0a53454489");
  assert.deepEqual(decodeFooter(footer, SIZE), {
    ...FIELDS,
    major: 1,
    minor: 0,
    crc32c: crc32c(footer.subarray(0, 52)),
  });
});

Deno.test("footer: implausible offsets and lengths are DesFormatError before any allocation", () => {
  const cases: [string, Partial<FooterFields>, number?][] = [
    ["10 GB index in a 1 KB file", { indexLength: 10_000_000_000 }, 1024],
    ["meta inside the header", { metaOffset: 10 }],
    ["gap between META and INDEX", { indexOffset: 151 }],
    ["INDEX not ending at the footer", { indexLength: 78 }],
    ["entries beyond INDEX", { entryCount: 2 }],
    ["descriptor longer than META", { descriptorLength: 51 }],
    ["name heap too large", { indexLength: 72 + 2000, indexOffset: 150 }, 150 + 2072 + 64],
    ["empty index with a heap", { entryCount: 0, indexLength: 77 }],
    ["tail above the limit", {
      metaOffset: 64,
      metaLength: 2 ** 31,
      indexOffset: 64 + 2 ** 31,
    }, 64 + 2 ** 31 + 77 + 64],
  ];
  for (const [label, change, size] of cases) {
    const footer = encodeFooter({ ...FIELDS, ...change });
    assert.throws(() => decodeFooter(footer, size ?? SIZE), DesFormatError, label);
  }
  const huge = encodeFooter(FIELDS);
  new DataView(huge.buffer).setBigUint64(24, 2n ** 60n, true);
  assert.throws(() => decodeFooter(reseal(huge), SIZE), DesFormatError, "u64 above 2^53");
});

Deno.test("footer: magic, CRC and truncation", () => {
  const footer = encodeFooter(FIELDS);
  const magic = footer.slice();
  magic[63] = 0;
  assert.throws(() => decodeFooter(magic, SIZE), { name: "DesFormatError", message: /magic/ });
  const flipped = footer.slice();
  flipped[5] ^= 1;
  assert.throws(() => decodeFooter(flipped, SIZE), DesChecksumError);
  assert.throws(() => decodeFooter(footer.subarray(1), SIZE), DesFormatError);
});

/** A small real container whose footer version can be edited. */
async function smallContainer(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const sink: ContainerSink = {
    write: (chunk) => Promise.resolve(void chunks.push(chunk.slice())),
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
  const writer = await DesWriter.create(sink);
  await writer.add("a", text("alpha"));
  await writer.finish();
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

Deno.test("versioning: another minor is read, another major is a DesFormatError naming both", async () => {
  const bytes = await smallContainer();
  const footerAt = bytes.byteLength - 64;
  const minor = bytes.slice();
  new DataView(minor.buffer).setUint16(footerAt + 50, 7, true);
  reseal(minor.subarray(footerAt));
  const reader = await DesReader.open(new MemoryRangeSource(minor));
  assert.equal(reader.footer.minor, 7);
  assert.deepEqual(await reader.readFile("a"), text("alpha"));

  const major = bytes.slice();
  new DataView(major.buffer).setUint16(footerAt + 48, 2, true);
  reseal(major.subarray(footerAt));
  await assert.rejects(DesReader.open(new MemoryRangeSource(major)), (e: unknown) => {
    assert.ok(e instanceof DesFormatError);
    assert.match(e.message, /version 2\.0/);
    assert.match(e.message, /1\.x/);
    assert.deepEqual([e.context.found, e.context.supported], ["2.0", "1.x"]);
    return true;
  });
});

Deno.test("names: the rules", () => {
  for (const good of ["a", "a/b/c", "日本", "a/.b", "a..b", "...", "x".repeat(1024), "a//b"]) {
    assert.equal(nameProblem(good), undefined, good);
  }
  const bad: [unknown, RegExp][] = [
    ["", /empty/],
    ["/a", /starts with/],
    ["..", /'\.\.'/],
    ["a/../b", /'\.\.'/],
    ["a\0", /NUL/],
    ["\uDC00", /surrogate/],
    ["é".repeat(513), /1024/],
    [42, /not a string/],
  ];
  for (const [name, reason] of bad) assert.match(nameProblem(name) ?? "", reason, String(name));
});

Deno.test("meta: fixed key order, size limit, malformed records", () => {
  const bytes = encodeFileMeta({ attrs: { b: "2" }, mtime: 5, contentType: "text/plain" });
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"contentType":"text/plain","mtime":5,"attrs":{"b":"2"}}',
  );
  assert.deepEqual(decodeFileMeta(bytes), {
    contentType: "text/plain",
    mtime: 5,
    attrs: { b: "2" },
  });
  assert.equal(encodeFileMeta({ source: "x".repeat(65_000) }).byteLength, 65_013);
  assert.throws(() => encodeFileMeta({ source: "x".repeat(65_524) }), DesInputError);
  assert.throws(() => encodeFileMeta({ attrs: { a: 1 as unknown as string } }), DesInputError);
  assert.throws(() => encodeFileMeta({ mtime: NaN }), DesInputError);
  for (const junk of ["", "[]", "null", '{"mtime":"x"}', '{"attrs":[1]}', "{", "\xff"]) {
    assert.throws(() => decodeFileMeta(text(junk)), DesFormatError, junk);
  }
  assert.throws(() => decodeFileMeta(Uint8Array.of(0x7b, 0xff, 0x7d)), DesFormatError);
  assert.deepEqual(decodeFileMeta(text('{"future":1,"source":"s"}')), { source: "s" });
  assert.throws(
    () => decodeDescriptor(text('{"formatVersion":"1.0","containerId":"xyz"}')),
    DesFormatError,
  );
});

Deno.test("big-file keys: safe single segment, long names replaced by a digest", () => {
  assert.equal(nameSegment("photo-1.jpg"), "photo-1.jpg");
  assert.equal(nameSegment("a/b c~ü"), "a%2Fb%20c%7E%C3%BC");
  assert.equal(nameSegment(".hidden"), "%2Ehidden");
  assert.equal(nameSegment("..."), "%2E..");
  const long = "x".repeat(201);
  assert.equal(nameSegment(long), `~${toHex(sha256(text(long)))}`);
  assert.equal(nameSegment("x".repeat(200)), "x".repeat(200));
  assert.equal(
    bigFileKey("p/", "00".repeat(16), "dir/f"),
    `p/_bigFiles/${"00".repeat(16)}/dir%2Ff`,
  );
});
