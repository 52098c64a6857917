/**
 * Full check of a container (`des verify`): the header, every file's
 * CRC-32C and SHA-256 with DATA read sequentially in large chunks (a few
 * requests, not one per file), the META/INDEX checksums, the index order
 * and the DATA layout. Problems are collected into a report, not thrown.
 *
 * @module
 */

import { DesError } from "../core/errors.ts";
import { bytesEqual, compareBytes, toHex, u32Hex } from "./binary.ts";
import { Crc32c, crc32c, Sha256, sha256 } from "./checksum.ts";
import { HEADER_SIZE } from "./constants.ts";
import { decodeHeader } from "./header.ts";
import type { IndexEntry } from "./index.ts";
import type { DesReader } from "./reader.ts";
import { checkedStream } from "./streams.ts";

/** Size of each sequential DATA read of a verification. */
export const VERIFY_CHUNK_BYTES = 8 * 1024 * 1024;

/** Progress of a running verification. */
export interface VerifyProgress {
  /** Bytes read and checked so far. */
  bytesDone: number;
  /** Bytes to read in all. */
  bytesTotal: number;
  /** Files checked so far. */
  filesDone: number;
  /** Files in the container. */
  filesTotal: number;
}

/** A file that failed verification. */
export interface BadFile {
  /** File name. */
  name: string;
  /** What failed, e.g. `crc32c mismatch`. */
  reason: string;
  /** Expected value (hex), for checksum mismatches. */
  expected?: string;
  /** Actual value (hex), for checksum mismatches. */
  actual?: string;
}

/** Result of {@linkcode verifyContainer}. */
export interface VerifyReport {
  /** True when no file is bad and there is no structural problem. */
  ok: boolean;
  /** Container id from the descriptor. */
  containerId: string;
  /** Container size. */
  size: number;
  /** Number of index entries. */
  entryCount: number;
  /** Files whose content was checked. */
  filesChecked: number;
  /** Content bytes read (DATA and big files). */
  bytesChecked: number;
  /** Read requests made. */
  requests: number;
  /** Files that failed, by name. */
  badFiles: BadFile[];
  /** Structural problems (header, checksums of META/INDEX, order, layout). */
  problems: string[];
  /** External files not checked because the reader has no big-file store. */
  externalSkipped: string[];
}

interface Tally {
  report: VerifyReport;
  onProgress?: (progress: VerifyProgress) => void;
  bytesTotal: number;
}

/** Verify everything in the container `reader` has open. */
export async function verifyContainer(
  reader: DesReader,
  onProgress?: (progress: VerifyProgress) => void,
  chunkBytes: number = VERIFY_CHUNK_BYTES,
): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: false,
    containerId: reader.descriptor.containerId,
    size: reader.size,
    entryCount: reader.entryCount,
    filesChecked: 0,
    bytesChecked: 0,
    requests: 0,
    badFiles: [],
    problems: [],
    externalSkipped: [],
  };
  checkTail(reader, report);
  const entries = listEntries(reader, report);
  const { inline, overlapping } = layout(entries, reader.footer.metaOffset, report);
  const external = entries.filter((entry) => entry.external);
  const checkedExternal = reader.bigFiles ? external : [];
  const tally: Tally = {
    report,
    onProgress,
    bytesTotal: reader.footer.metaOffset + checkedExternal.reduce((sum, e) => sum + e.size, 0),
  };
  await checkData(reader, inline, Math.max(chunkBytes, HEADER_SIZE), tally);
  for (const entry of overlapping) {
    report.requests++;
    await reader.readFile(entry).then(
      () => report.filesChecked++,
      (error) => bad(report, entry, error),
    );
  }
  for (const entry of external) {
    if (reader.bigFiles) await checkExternal(reader, entry, tally);
    else report.externalSkipped.push(entry.name);
  }
  report.ok = report.badFiles.length === 0 && report.problems.length === 0;
  return report;
}

function checkTail(reader: DesReader, report: VerifyReport): void {
  const { footer, tail } = reader;
  const meta = crc32c(tail.subarray(0, footer.metaLength));
  if (meta !== footer.metaCrc32c) {
    report.problems.push(`META CRC-32C ${u32Hex(meta)} != ${u32Hex(footer.metaCrc32c)}`);
  }
  const index = crc32c(tail.subarray(footer.metaLength, footer.metaLength + footer.indexLength));
  if (index !== footer.indexCrc32c) {
    report.problems.push(`INDEX CRC-32C ${u32Hex(index)} != ${u32Hex(footer.indexCrc32c)}`);
  }
}

function listEntries(reader: DesReader, report: VerifyReport): IndexEntry[] {
  const entries: IndexEntry[] = [];
  const encoder = new TextEncoder();
  let previous: Uint8Array | undefined;
  try {
    for (const entry of reader.entries()) {
      const name = encoder.encode(entry.name);
      if (previous && compareBytes(previous, name) >= 0) {
        report.problems.push(`index not in strict name order at ${JSON.stringify(entry.name)}`);
      }
      previous = name;
      try {
        reader.meta(entry);
      } catch (error) {
        bad(report, entry, error, "meta record: ");
      }
      entries.push(entry);
    }
  } catch (error) {
    report.problems.push(`index: ${message(error)}`);
  }
  return entries;
}

function layout(entries: IndexEntry[], dataEnd: number, report: VerifyReport) {
  const sorted = entries.filter((e) => !e.external)
    .sort((a, b) => a.dataOffset - b.dataOffset || a.size - b.size);
  const inline: IndexEntry[] = [];
  const overlapping: IndexEntry[] = [];
  let expected = HEADER_SIZE;
  for (const entry of sorted) {
    if (entry.dataOffset < expected && entry.size > 0) {
      report.problems.push(`file ${JSON.stringify(entry.name)} overlaps the previous file`);
      overlapping.push(entry);
      continue;
    }
    if (entry.dataOffset > expected) {
      report.problems.push(
        `${entry.dataOffset - expected} bytes of DATA before ${JSON.stringify(entry.name)} ` +
          "belong to no file",
      );
    }
    inline.push(entry);
    expected = Math.max(expected, entry.dataOffset + entry.size);
  }
  if (expected < dataEnd) {
    report.problems.push(`${dataEnd - expected} bytes at the end of DATA belong to no file`);
  }
  return { inline, overlapping };
}

async function checkData(
  reader: DesReader,
  files: IndexEntry[],
  chunkBytes: number,
  tally: Tally,
): Promise<void> {
  const { report } = tally;
  const dataEnd = reader.footer.metaOffset;
  const crc = new Crc32c();
  let sha = new Sha256();
  let done = 0;
  let k = 0;
  const finish = (entry: IndexEntry) => {
    checkDigests(report, entry, crc.digest(), sha.digest());
    crc.reset();
    sha = new Sha256();
    done = 0;
    k++;
  };
  for (let pos = 0; pos < dataEnd;) {
    const length = Math.min(chunkBytes, dataEnd - pos);
    const chunk = await reader.source.read(pos, length);
    report.requests++;
    if (pos === 0) checkHeader(reader, chunk, report);
    const chunkEnd = pos + length;
    while (k < files.length) {
      const entry = files[k];
      const start = entry.dataOffset + done;
      const end = Math.min(entry.dataOffset + entry.size, chunkEnd);
      if (done === 0 && end === entry.dataOffset + entry.size) {
        const whole = chunk.subarray(start - pos, end - pos);
        checkDigests(report, entry, crc32c(whole), sha256(whole));
        k++;
        continue;
      }
      if (end > start) {
        const part = chunk.subarray(start - pos, end - pos);
        crc.update(part);
        sha.update(part);
        done += end - start;
      }
      if (done !== entry.size) break;
      finish(entry);
    }
    pos = chunkEnd;
    report.bytesChecked += length;
    progress(tally);
  }
  while (k < files.length) finish(files[k]);
}

function checkHeader(reader: DesReader, chunk: Uint8Array, report: VerifyReport): void {
  try {
    const header = decodeHeader(chunk.subarray(0, HEADER_SIZE));
    if (header.containerId !== reader.descriptor.containerId) {
      report.problems.push(
        `header container id ${header.containerId} != descriptor ${reader.descriptor.containerId}`,
      );
    }
    if (header.createdAt !== reader.descriptor.createdAt) {
      report.problems.push(
        `header created-at ${header.createdAt} != descriptor ${reader.descriptor.createdAt}`,
      );
    }
  } catch (error) {
    report.problems.push(`header: ${message(error)}`);
  }
}

async function checkExternal(reader: DesReader, entry: IndexEntry, tally: Tally): Promise<void> {
  const { report } = tally;
  try {
    const key = reader.meta(entry).externalKey;
    if (key === undefined) throw new Error("no externalKey in the meta record");
    report.requests++;
    const { body } = await reader.bigFiles!.get(key);
    const check = checkedStream(entry.size, {
      crc32c: true,
      sha256: true,
      lengthError: (actual) => new Error(`big file has ${actual} bytes, expected ${entry.size}`),
    });
    for await (const _chunk of body.pipeThrough(check.transform)) { /* drain */ }
    const digests = check.digests();
    checkDigests(report, entry, digests.crc32c!, digests.sha256!);
    report.bytesChecked += entry.size;
  } catch (error) {
    bad(report, entry, error);
  }
  progress(tally);
}

function checkDigests(report: VerifyReport, entry: IndexEntry, crc: number, sha: Uint8Array) {
  report.filesChecked++;
  if (crc !== entry.crc32c) {
    report.badFiles.push({
      name: entry.name,
      reason: "crc32c mismatch",
      expected: u32Hex(entry.crc32c),
      actual: u32Hex(crc),
    });
  } else if (!bytesEqual(sha, entry.sha256)) {
    report.badFiles.push({
      name: entry.name,
      reason: "sha256 mismatch",
      expected: toHex(entry.sha256),
      actual: toHex(sha),
    });
  }
}

function bad(report: VerifyReport, entry: IndexEntry, error: unknown, prefix = ""): void {
  const context = error instanceof DesError ? error.context : {};
  report.badFiles.push({
    name: entry.name,
    reason: prefix + message(error),
    ...(typeof context.expected === "string" ? { expected: context.expected } : {}),
    ...(typeof context.actual === "string" ? { actual: context.actual } : {}),
  });
}

function progress(tally: Tally): void {
  tally.onProgress?.({
    bytesDone: tally.report.bytesChecked,
    bytesTotal: tally.bytesTotal,
    filesDone: tally.report.filesChecked,
    filesTotal: tally.report.entryCount,
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
