/**
 * The golden container, decoded field by field against literal values (the
 * checksums were cross-checked with an independent bitwise CRC-32C and
 * sha256sum), and rebuilt byte for byte from the same inputs.
 */

import assert from "node:assert/strict";
import { toHex } from "../format/binary.ts";
import {
  decodeFooter,
  decodeHeader,
  DesReader,
  MemoryRangeSource,
  VERIFY_CHUNK_BYTES,
} from "../format/mod.ts";
import { buildGoldenContainer, GOLDEN_FILES } from "../scripts/make_golden_fixture.ts";

const FIXTURE = new URL("./fixtures/golden.des", import.meta.url);
const bytes = await Deno.readFile(FIXTURE);
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const u16 = (at: number) => view.getUint16(at, true);
const u32 = (at: number) => view.getUint32(at, true);
const u64 = (at: number) => Number(view.getBigUint64(at, true));
const hex = (from: number, to: number) => toHex(bytes.subarray(from, to));
const utf8 = (from: number, to: number) => new TextDecoder().decode(bytes.subarray(from, to));

Deno.test("golden: size", () => {
  assert.equal(bytes.byteLength, 1002);
});

Deno.test("golden: HEADER bytes 0..63", () => {
  assert.equal(hex(0, 8), "894445530d0a1a0a");
  assert.equal(u16(8), 1, "major");
  assert.equal(u16(10), 0, "minor");
  assert.equal(u32(12), 64, "header size");
  assert.equal(hex(16, 32), "00112233445566778899aabbccddeeff", "container id");
  assert.equal(u64(32), 1_700_000_000_000, "created-at");
  assert.equal(hex(40, 60), "00".repeat(20), "reserved");
  assert.equal(u32(60), 0xbc25ac0d, "header CRC-32C");
  assert.deepEqual(decodeHeader(bytes.subarray(0, 64)), {
    major: 1,
    minor: 0,
    headerSize: 64,
    containerId: "00112233445566778899aabbccddeeff",
    createdAt: 1_700_000_000_000,
    crc32c: 0xbc25ac0d,
  });
});

Deno.test("golden: DATA holds the inline bodies back to back", () => {
  assert.equal(utf8(64, 76), "Hello, DES!\n");
  assert.equal(utf8(76, 86), '{"k":"v"}\n');
});

Deno.test("golden: FOOTER, last 64 bytes", () => {
  const f = 938;
  assert.equal(u64(f + 0), 86, "meta offset");
  assert.equal(u64(f + 8), 523, "meta length");
  assert.equal(u64(f + 16), 609, "index offset");
  assert.equal(u64(f + 24), 329, "index length");
  assert.equal(u32(f + 32), 4, "entry count");
  assert.equal(u32(f + 36), 237, "descriptor length");
  assert.equal(u32(f + 40), 4144235241, "META CRC-32C");
  assert.equal(u32(f + 44), 3546351888, "INDEX CRC-32C");
  assert.equal(u16(f + 48), 1, "major");
  assert.equal(u16(f + 50), 0, "minor");
  assert.equal(u32(f + 52), 3489366317, "footer CRC-32C");
  assert.equal(hex(f + 56, f + 64), "0a1a0d0a53454489", "end magic");
  assert.deepEqual(decodeFooter(bytes.subarray(f), bytes.byteLength), {
    metaOffset: 86,
    metaLength: 523,
    indexOffset: 609,
    indexLength: 329,
    entryCount: 4,
    descriptorLength: 237,
    metaCrc32c: 4144235241,
    indexCrc32c: 3546351888,
    major: 1,
    minor: 0,
    crc32c: 3489366317,
  });
});

Deno.test("golden: META starts with the descriptor, then one record per file in add order", () => {
  assert.deepEqual(JSON.parse(utf8(86, 86 + 237)), {
    formatVersion: "1.0",
    containerId: "00112233445566778899aabbccddeeff",
    createdAt: 1_700_000_000_000,
    writer: "des/0.1.0",
    entryCount: 4,
    firstName: "big.bin",
    lastName: "hello.txt",
    shard: 7,
    source: "golden",
    attrs: { purpose: "fixture" },
  });
  assert.equal(utf8(323, 373), '{"contentType":"text/plain","mtime":1699999999000}');
  assert.equal(utf8(373, 375), "{}");
  assert.equal(
    utf8(375, 492),
    '{"contentType":"application/json","originalLocation":"/src/dir/ünïcødé.json",' +
      '"source":"golden","attrs":{"a":"1"}}',
  );
  assert.equal(
    utf8(492, 609),
    '{"contentType":"application/octet-stream",' +
      '"externalKey":"archive/_bigFiles/00112233445566778899aabbccddeeff/big.bin"}',
  );
});

const EXPECTED_ENTRIES = [
  {
    nameOffset: 0,
    name: "big.bin",
    flags: 1,
    dataOffset: 0,
    size: 40,
    metaOffset: 492,
    metaLength: 117,
    crc32c: 323940483,
    sha256: "5faa4eec3611556812c2d74b437c8c49add3f910f10063d801441f7d75cd5e3b",
  },
  {
    nameOffset: 7,
    name: "dir/ünïcødé.json",
    flags: 0,
    dataOffset: 76,
    size: 10,
    metaOffset: 375,
    metaLength: 117,
    crc32c: 1233002784,
    sha256: "85fbce622d07ebfc3e81b7f7b842482ff0b5b24273a371f56537a4a654d4f139",
  },
  {
    nameOffset: 27,
    name: "empty",
    flags: 0,
    dataOffset: 76,
    size: 0,
    metaOffset: 373,
    metaLength: 2,
    crc32c: 0,
    sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  },
  {
    nameOffset: 32,
    name: "hello.txt",
    flags: 0,
    dataOffset: 64,
    size: 12,
    metaOffset: 323,
    metaLength: 50,
    crc32c: 2951060893,
    sha256: "a58033a4be8e928efa49077edd81c934a393b157f96cebb3f8243e41ddb7b00a",
  },
];

Deno.test("golden: INDEX entries (72 bytes each) and the name heap", () => {
  const heap = 609 + 4 * 72;
  assert.equal(utf8(heap, 938), "big.bindir/ünïcødé.jsonemptyhello.txt");
  EXPECTED_ENTRIES.forEach((expected, i) => {
    const at = 609 + i * 72;
    const nameLength = u16(at + 4);
    assert.equal(u32(at), expected.nameOffset, `${expected.name} name offset`);
    assert.equal(utf8(heap + u32(at), heap + u32(at) + nameLength), expected.name);
    assert.equal(u16(at + 6), expected.flags, `${expected.name} flags`);
    assert.equal(u64(at + 8), expected.dataOffset, `${expected.name} data offset`);
    assert.equal(u64(at + 16), expected.size, `${expected.name} size`);
    assert.equal(u64(at + 24), expected.metaOffset, `${expected.name} meta offset`);
    assert.equal(u32(at + 32), expected.metaLength, `${expected.name} meta length`);
    assert.equal(u32(at + 36), expected.crc32c, `${expected.name} CRC-32C`);
    assert.equal(hex(at + 40, at + 72), expected.sha256, `${expected.name} SHA-256`);
  });
});

Deno.test("golden: DesReader sees the same entries and contents", async () => {
  const { bigFiles } = await buildGoldenContainer();
  const reader = await DesReader.open(new MemoryRangeSource(bytes), { bigFiles });
  assert.deepEqual(
    [...reader.entries()].map((e) => ({ ...e, sha256: toHex(e.sha256) })),
    EXPECTED_ENTRIES.map(({ nameOffset: _, ...e }) => ({ ...e, external: e.flags === 1 })),
  );
  for (const file of GOLDEN_FILES) {
    assert.deepEqual(await reader.readFile(file.name), file.body);
  }
  const report = await reader.verify();
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(report.filesChecked, 4);
  assert.ok(bytes.byteLength < VERIFY_CHUNK_BYTES);
  assert.equal(report.requests, 2, "one DATA read and one big-file get");
});

Deno.test("golden: re-encoding the inputs reproduces the fixture byte for byte", async () => {
  const rebuilt = await buildGoldenContainer();
  assert.equal(toHex(rebuilt.bytes), toHex(bytes));
  assert.deepEqual(rebuilt.summary, {
    containerId: "00112233445566778899aabbccddeeff",
    size: 1002,
    entryCount: 4,
    dataBytes: 22,
    tailLength: 916,
    indexCrc32c: 3546351888,
    metaCrc32c: 4144235241,
    footerCrc32c: 3489366317,
    firstName: "big.bin",
    lastName: "hello.txt",
    bigFileKeys: ["archive/_bigFiles/00112233445566778899aabbccddeeff/big.bin"],
  });
});

Deno.test("golden: golden.json describes golden.des", async () => {
  const description = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/golden.json", import.meta.url)),
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  assert.equal(description.sha256, toHex(digest));
  assert.equal(description.size, bytes.byteLength);
});
