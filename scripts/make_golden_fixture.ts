/**
 * Writes the golden DES v1 container `tests/fixtures/golden.des` and its
 * description `tests/fixtures/golden.json`. The container id and the
 * creation time are fixed, so the output is the same on every run; the
 * golden test rebuilds it with {@linkcode buildGoldenContainer} and compares
 * the bytes.
 *
 * Usage: `deno run -A scripts/make_golden_fixture.ts [output-dir]`
 *
 * @module
 */

import { toHex } from "../format/binary.ts";
import { sha256 } from "../format/checksum.ts";
import {
  type ContainerSink,
  type ContainerSummary,
  DesReader,
  DesWriter,
  type FileMeta,
  MemoryRangeSource,
} from "../format/mod.ts";
import { MemoryObjectStore } from "../store/memory.ts";

/** Fixed container id of the golden container. */
export const GOLDEN_CONTAINER_ID = "00112233445566778899aabbccddeeff";
/** Fixed creation time: 2023-11-14T22:13:20.000Z. */
export const GOLDEN_CREATED_AT = 1_700_000_000_000;
/** Big-file threshold used, so that one file is external. */
export const GOLDEN_BIG_FILE_THRESHOLD = 32;
/** Big-file key prefix used. */
export const GOLDEN_BIG_FILE_PREFIX = "archive/";

/** One input file of the golden container, in the order it is added. */
export interface GoldenFile {
  /** File name. */
  name: string;
  /** Content. */
  body: Uint8Array;
  /** Metadata passed to `add`. */
  meta: FileMeta;
}

const text = (value: string) => new TextEncoder().encode(value);

/** The input files, in the order they are added. */
export const GOLDEN_FILES: readonly GoldenFile[] = [
  {
    name: "hello.txt",
    body: text("Hello, DES!\n"),
    meta: { contentType: "text/plain", mtime: GOLDEN_CREATED_AT - 1000 },
  },
  { name: "empty", body: new Uint8Array(0), meta: {} },
  {
    name: "dir/ünïcødé.json",
    body: text('{"k":"v"}\n'),
    meta: {
      contentType: "application/json",
      originalLocation: "/src/dir/ünïcødé.json",
      source: "golden",
      attrs: { a: "1" },
    },
  },
  {
    name: "big.bin",
    body: Uint8Array.from({ length: 40 }, (_, i) => i),
    meta: { contentType: "application/octet-stream" },
  },
];

/** The golden container's bytes, its summary and the store holding its big file. */
export interface GoldenContainer {
  /** Container bytes. */
  bytes: Uint8Array;
  /** What the writer reported. */
  summary: ContainerSummary;
  /** Holds the external file. */
  bigFiles: MemoryObjectStore;
}

/** Build the golden container in memory. */
export async function buildGoldenContainer(): Promise<GoldenContainer> {
  const chunks: Uint8Array[] = [];
  const sink: ContainerSink = {
    write: (chunk) => Promise.resolve(void chunks.push(chunk.slice())),
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
  const bigFiles = new MemoryObjectStore({ name: "golden" });
  const writer = await DesWriter.create(sink, {
    containerId: GOLDEN_CONTAINER_ID,
    now: () => GOLDEN_CREATED_AT,
    bigFileThreshold: GOLDEN_BIG_FILE_THRESHOLD,
    bigFiles: { store: bigFiles, prefix: GOLDEN_BIG_FILE_PREFIX },
    shard: 7,
    source: "golden",
    attrs: { purpose: "fixture" },
  });
  for (const file of GOLDEN_FILES) await writer.add(file.name, file.body, file.meta);
  const summary = await writer.finish();
  const bytes = new Uint8Array(summary.size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, summary, bigFiles };
}

/** A JSON description of the golden container: inputs, layout and checksums. */
export async function describeGoldenContainer(golden: GoldenContainer): Promise<unknown> {
  const reader = await DesReader.open(new MemoryRangeSource(golden.bytes));
  const { footer } = reader;
  return {
    about: "DES v1 golden container; regenerate with deno run -A scripts/make_golden_fixture.ts",
    file: "golden.des",
    size: golden.bytes.byteLength,
    sha256: toHex(sha256(golden.bytes)),
    options: {
      containerId: GOLDEN_CONTAINER_ID,
      createdAt: GOLDEN_CREATED_AT,
      bigFileThreshold: GOLDEN_BIG_FILE_THRESHOLD,
      bigFilePrefix: GOLDEN_BIG_FILE_PREFIX,
      shard: 7,
      source: "golden",
      attrs: { purpose: "fixture" },
    },
    inputs: GOLDEN_FILES.map((file) => ({
      name: file.name,
      size: file.body.byteLength,
      contentHex: toHex(file.body),
      meta: file.meta,
    })),
    layout: {
      header: { offset: 0, length: 64 },
      data: { offset: 64, length: footer.metaOffset - 64 },
      meta: {
        offset: footer.metaOffset,
        length: footer.metaLength,
        descriptorLength: footer.descriptorLength,
      },
      index: { offset: footer.indexOffset, length: footer.indexLength },
      footer: { offset: golden.bytes.byteLength - 64, length: 64 },
    },
    checksums: {
      metaCrc32c: footer.metaCrc32c,
      indexCrc32c: footer.indexCrc32c,
      footerCrc32c: footer.crc32c,
    },
    descriptor: reader.descriptor,
    entries: [...reader.entries()].map((entry) => ({
      ...entry,
      sha256: toHex(entry.sha256),
      meta: reader.meta(entry),
    })),
    bigFileKeys: golden.summary.bigFileKeys,
  };
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? new URL("../tests/fixtures", import.meta.url).pathname;
  const golden = await buildGoldenContainer();
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/golden.des`, golden.bytes);
  const description = await describeGoldenContainer(golden);
  await Deno.writeTextFile(`${dir}/golden.json`, JSON.stringify(description, null, 2) + "\n");
  console.log(`wrote ${dir}/golden.des (${golden.bytes.byteLength} bytes) and golden.json`);
}
