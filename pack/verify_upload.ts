/**
 * Verification of an uploaded container before it may be committed: the
 * object opens as a DES container, has the recorded size, and its footer,
 * index and meta checksums, entry count and container id are the ones the
 * writer produced. It costs one ranged GET of the container's tail (META,
 * INDEX and FOOTER: exactly its length when the writer reported it, else
 * the reader's default suffix, and at most one more read for a larger
 * index); that answer also gives the object's size and ETag, so no HEAD is
 * sent. DATA is not downloaded again. Big files are HEADed for their size.
 *
 * @module
 */

import { DesError, DesNotFoundError } from "../core/errors.ts";
import { DesReader } from "../format/reader.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";

/** What the writer reported (or the catalog recorded) about a container. */
export interface ExpectedContainer {
  /** Container id (hex). */
  containerId: string;
  /** Object key. */
  key: string;
  /** Container size in bytes. */
  size: number;
  /** Number of files. */
  fileCount: number;
  /** CRC-32C of the INDEX. */
  indexCrc32c: number;
  /** CRC-32C of the FOOTER. */
  footerCrc32c: number;
  /** CRC-32C of META, when known (the footer checksum covers it anyway). */
  metaCrc32c?: number;
  /** Length of META + INDEX + FOOTER, when known: the one suffix read asks for exactly that. */
  tailLength?: number;
}

/** What only the writer knows (not recorded in the catalog): checked when given. */
export type WriterFacts = Pick<ExpectedContainer, "metaCrc32c" | "tailLength">;

/** The outcome: `ok`, or why the upload cannot be committed. */
export type VerifyOutcome = { ok: true; etag: string } | { ok: false; reason: string };

/**
 * Check the uploaded object against `expected`. Damage is reported as
 * `{ ok: false }`; a store that does not answer throws (the caller retries
 * later rather than discarding a good upload).
 */
export async function verifyUpload(
  store: ObjectStore,
  expected: ExpectedContainer,
): Promise<VerifyOutcome> {
  const source = new StoreRangeSource(store, expected.key, { pinFirst: true });
  let reader: DesReader;
  try {
    reader = await DesReader.open(source, {
      bigFiles: store,
      suffixBytes: expected.tailLength,
    });
  } catch (error) {
    if (error instanceof DesNotFoundError) {
      return { ok: false, reason: `object ${expected.key} is missing` };
    }
    const size = source.firstAnswer?.size;
    if (size !== undefined && size !== expected.size) return wrongSize(expected, size);
    if (error instanceof DesError && error.status >= 500 && error.status !== 502) throw error;
    return {
      ok: false,
      reason: `object ${expected.key} does not open: ${(error as Error).message}`,
    };
  }
  if (reader.size !== expected.size) return wrongSize(expected, reader.size);
  const mismatch = compareFooter(reader, expected);
  if (mismatch) return { ok: false, reason: `object ${expected.key}: ${mismatch}` };
  for (const entry of reader.entries()) {
    if (!entry.external) continue;
    const key = reader.meta(entry).externalKey;
    const big = key ? await store.head(key) : null;
    if (!big || big.size !== entry.size) {
      return {
        ok: false,
        reason: `big file ${key ?? entry.name} is missing or has the wrong size`,
      };
    }
  }
  return { ok: true, etag: source.firstAnswer?.etag ?? "" };
}

function wrongSize(expected: ExpectedContainer, size: number): VerifyOutcome {
  return {
    ok: false,
    reason: `object ${expected.key} has ${size} bytes, the writer wrote ${expected.size}`,
  };
}

function compareFooter(reader: DesReader, expected: ExpectedContainer): string | undefined {
  const { footer, descriptor } = reader;
  const checks: [string, unknown, unknown][] = [
    ["container id", descriptor.containerId, expected.containerId],
    ["entry count", footer.entryCount, expected.fileCount],
    ["index CRC-32C", footer.indexCrc32c, expected.indexCrc32c],
    ["footer CRC-32C", footer.crc32c, expected.footerCrc32c],
  ];
  if (expected.metaCrc32c !== undefined) {
    checks.push(["meta CRC-32C", footer.metaCrc32c, expected.metaCrc32c]);
  }
  for (const [what, actual, wanted] of checks) {
    if (actual !== wanted) return `${what} is ${actual}, expected ${wanted}`;
  }
  return undefined;
}
