/**
 * Mutation test: thousands of truncated or bit-flipped copies of a small
 * container, chosen by a seeded PRNG (set DES_MUTATION_SEED to replay). For
 * each copy, opening and reading every file must either throw
 * DesFormatError / DesChecksumError or return exactly the original bytes.
 * A flip inside a file's DATA must be a DesChecksumError naming that file,
 * and verify() must name it too.
 */

import assert from "node:assert/strict";
import { DesChecksumError, DesFormatError } from "../core/errors.ts";
import {
  type ContainerSink,
  crc32c,
  DesReader,
  DesWriter,
  type IndexEntry,
  MemoryRangeSource,
} from "../format/mod.ts";
import { readAll } from "../store/object_store.ts";
import { MemoryObjectStore } from "../store/memory.ts";

const SEED = Number(Deno.env.get("DES_MUTATION_SEED") ?? 0x0de5_2024);
const COPIES = 12_000;

/** mulberry32: a small seeded PRNG, so every failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILES: [string, Uint8Array][] = [
  ["empty", new Uint8Array(0)],
  ["one", Uint8Array.of(42)],
  ["text/hello.txt", new TextEncoder().encode("Hello, mutation test!\n")],
  ["bin/ünïcødé", Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff)],
  ["bin/bigger", Uint8Array.from({ length: 300 }, (_, i) => (i * 11 + 3) & 0xff)],
  ["external", Uint8Array.from({ length: 600 }, (_, i) => i & 0xff)],
];

async function buildContainer() {
  const chunks: Uint8Array[] = [];
  const sink: ContainerSink = {
    write: (chunk) => Promise.resolve(void chunks.push(chunk.slice())),
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
  const store = new MemoryObjectStore();
  const writer = await DesWriter.create(sink, {
    bigFileThreshold: 500,
    bigFiles: { store },
    source: "mutation",
  });
  for (const [name, body] of FILES) {
    await writer.add(name, body, { contentType: "application/octet-stream", mtime: 1 });
  }
  const summary = await writer.finish();
  const bytes = new Uint8Array(summary.size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, store };
}

const { bytes: ORIGINAL, store } = await buildContainer();
const ORIGINAL_BODIES = new Map(FILES);
const ORIGINAL_READER = await DesReader.open(new MemoryRangeSource(ORIGINAL), { bigFiles: store });
const DATA_OWNER: (string | undefined)[] = new Array(ORIGINAL.byteLength);
for (const entry of ORIGINAL_READER.entries()) {
  if (entry.external) continue;
  for (let i = entry.dataOffset; i < entry.dataOffset + entry.size; i++) DATA_OWNER[i] = entry.name;
}
const DATA_START = 64;
const DATA_END = ORIGINAL_READER.footer.metaOffset;

interface Mutation {
  kind: string;
  bytes: Uint8Array;
  /** Name of the file whose DATA holds the single flipped bit. */
  flippedFile?: string;
}

function mutate(random: () => number): Mutation {
  const pick = (n: number) => Math.floor(random() * n);
  const roll = random();
  const bytes = ORIGINAL.slice();
  if (roll < 0.15) return { kind: "truncate", bytes: ORIGINAL.slice(0, pick(ORIGINAL.byteLength)) };
  if (roll < 0.3) {
    const at = DATA_START + pick(DATA_END - DATA_START);
    bytes[at] ^= 1 << pick(8);
    return { kind: `data-flip@${at}`, bytes, flippedFile: DATA_OWNER[at] };
  }
  if (roll < 0.45) {
    const at = DATA_END + pick(ORIGINAL.byteLength - DATA_END);
    bytes[at] ^= 1 << pick(8);
    return { kind: `tail-flip@${at}`, bytes };
  }
  if (roll < 0.55) {
    const flips = 2 + pick(7);
    for (let k = 0; k < flips; k++) bytes[pick(bytes.byteLength)] ^= 1 << pick(8);
    return { kind: `multi-flip(${flips})`, bytes };
  }
  if (roll < 0.6) {
    const at = pick(bytes.byteLength);
    crypto.getRandomValues(bytes.subarray(at, at + 1 + pick(8)));
    return { kind: `overwrite@${at}`, bytes };
  }
  const at = pick(bytes.byteLength);
  bytes[at] ^= 1 << pick(8);
  return { kind: `flip@${at}`, bytes, flippedFile: DATA_OWNER[at] };
}

function isExpected(error: unknown): boolean {
  return error instanceof DesFormatError || error instanceof DesChecksumError;
}

Deno.test(`mutation: ${COPIES} corrupted copies never crash or return wrong bytes (seed ${SEED})`, async () => {
  const random = prng(SEED);
  const outcomes = new Map<string, number>();
  const tally = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  let dataFlipsNamed = 0;
  for (let copy = 0; copy < COPIES; copy++) {
    const mutation = mutate(random);
    const where = `copy ${copy} (${mutation.kind}, seed ${SEED})`;
    const suffixBytes = [64, 200, 1000, 256 * 1024][copy % 4];
    let reader: DesReader;
    try {
      reader = await DesReader.open(new MemoryRangeSource(mutation.bytes), {
        suffixBytes,
        bigFiles: store,
      });
    } catch (error) {
      assert.ok(isExpected(error), `${where}: open threw ${error}`);
      assert.equal(mutation.flippedFile, undefined, `${where}: a DATA flip must not break open`);
      tally(`open:${(error as Error).name}`);
      continue;
    }
    let entries: IndexEntry[];
    try {
      entries = [...reader.entries()];
    } catch (error) {
      assert.ok(isExpected(error), `${where}: entries() threw ${error}`);
      tally(`entries:${(error as Error).name}`);
      continue;
    }
    assert.deepEqual(
      entries.map((e) => e.name).sort(),
      [...ORIGINAL_BODIES.keys()].sort(),
      `${where}: an opened container lists the original names`,
    );
    for (const entry of entries) {
      try {
        const body = await reader.readFile(entry);
        assert.deepEqual(body, ORIGINAL_BODIES.get(entry.name), `${where}: wrong bytes`);
        assert.notEqual(entry.name, mutation.flippedFile, `${where}: flip in DATA not detected`);
        tally("read:ok");
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assert.ok(isExpected(error), `${where}: readFile(${entry.name}) threw ${error}`);
        if (mutation.flippedFile !== undefined) {
          assert.ok(error instanceof DesChecksumError, `${where}: ${error}`);
          assert.equal(error.context.name, mutation.flippedFile, where);
        }
        tally(`read:${(error as Error).name}`);
      }
      if (copy % 10 === 0) {
        try {
          const streamed = await readAll(await reader.stream(entry));
          assert.deepEqual(streamed, ORIGINAL_BODIES.get(entry.name), `${where}: wrong stream`);
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          assert.ok(isExpected(error), `${where}: stream(${entry.name}) threw ${error}`);
        }
      }
    }
    if (mutation.flippedFile !== undefined && copy % 3 === 0) {
      const report = await reader.verify();
      assert.deepEqual(report.badFiles.map((b) => b.name), [mutation.flippedFile], where);
      assert.equal(report.ok, false);
      dataFlipsNamed++;
    }
  }
  console.log(`seed ${SEED}:`, Object.fromEntries([...outcomes].sort()), { dataFlipsNamed });
  assert.ok((outcomes.get("open:DesFormatError") ?? 0) > 100, "truncations were rejected");
  assert.ok((outcomes.get("open:DesChecksumError") ?? 0) > 100, "tail flips were detected");
  assert.ok((outcomes.get("read:DesChecksumError") ?? 0) > 1000, "data flips were detected");
  assert.ok(dataFlipsNamed > 300, "verify named flipped files");
});

Deno.test("mutation: a garbage or all-zero source is rejected with a typed error", async () => {
  const random = prng(SEED ^ 0x5a5a);
  for (let copy = 0; copy < 500; copy++) {
    const size = Math.floor(random() * 3000);
    const bytes = new Uint8Array(size);
    if (copy % 2 === 0) {
      for (let i = 0; i < size; i++) bytes[i] = Math.floor(random() * 256);
    }
    if (copy % 5 === 0 && size >= 8) {
      bytes.set(ORIGINAL.subarray(ORIGINAL.byteLength - 8), size - 8);
    }
    await assert.rejects(DesReader.open(new MemoryRangeSource(bytes)), (error: unknown) => {
      assert.ok(isExpected(error), `garbage copy ${copy}: ${error}`);
      return true;
    });
  }
});

/**
 * Flip a bit in META, INDEX or FOOTER and then recompute every checksum, so
 * the corruption gets past the CRCs and reaches the decoders' own checks.
 */
function resealedFlip(random: () => number): { at: number; bytes: Uint8Array } {
  const { metaOffset, metaLength, indexOffset, indexLength } = ORIGINAL_READER.footer;
  const bytes = ORIGINAL.slice();
  const footerAt = bytes.byteLength - 64;
  const at = metaOffset + Math.floor(random() * (footerAt + 52 - metaOffset));
  bytes[at] ^= 1 << Math.floor(random() * 8);
  const view = new DataView(bytes.buffer);
  view.setUint32(footerAt + 40, crc32c(bytes.subarray(metaOffset, metaOffset + metaLength)), true);
  view.setUint32(
    footerAt + 44,
    crc32c(bytes.subarray(indexOffset, indexOffset + indexLength)),
    true,
  );
  view.setUint32(footerAt + 52, crc32c(bytes.subarray(footerAt, footerAt + 52)), true);
  return { at, bytes };
}

Deno.test("mutation: 5000 flips behind valid checksums still end in typed errors or right bytes", async () => {
  const random = prng(SEED ^ 0x1234);
  const bodies = [...ORIGINAL_BODIES.values()];
  const outcomes = new Map<string, number>();
  const tally = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  for (let copy = 0; copy < 5000; copy++) {
    const { at, bytes } = resealedFlip(random);
    const where = `resealed copy ${copy} (flip at ${at}, seed ${SEED})`;
    try {
      const reader = await DesReader.open(new MemoryRangeSource(bytes), {
        suffixBytes: copy % 2 ? 128 : 256 * 1024,
        bigFiles: store,
      });
      for (const entry of reader.entries()) {
        try {
          reader.meta(entry);
          const body = await reader.readFile(entry);
          const original = ORIGINAL_BODIES.get(entry.name);
          if (original) assert.deepEqual(body, original, `${where}: wrong bytes for ${entry.name}`);
          else assert.ok(bodies.some((b) => b.byteLength === body.byteLength), where);
          tally("read:ok");
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          assert.ok(isExpected(error), `${where}: ${entry.name}: ${error}`);
          tally(`read:${(error as Error).name}`);
        }
      }
      tally("open:ok");
      if (copy % 5 === 0) {
        const report = await reader.verify();
        tally(`verify:${report.ok ? "ok" : "reported"}`);
      }
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      assert.ok(isExpected(error), `${where}: ${error}`);
      tally(`open:${(error as Error).name}`);
    }
  }
  console.log(`seed ${SEED} (resealed):`, Object.fromEntries([...outcomes].sort()));
  assert.ok((outcomes.get("open:DesFormatError") ?? 0) > 100);
  assert.ok((outcomes.get("read:DesFormatError") ?? 0) > 10);
});
