/**
 * `DesReader`: opens a DES v1 container from any {@linkcode RangeSource}
 * with one suffix read (two when META+INDEX is larger than the suffix),
 * finds files by binary search in the INDEX bytes, and reads a file with
 * exactly one range request, checking its CRC-32C and SHA-256.
 *
 * @module
 */

import {
  DesChecksumError,
  DesFormatError,
  DesInputError,
  DesNotFoundError,
} from "../core/errors.ts";
import type { BigFileBody, BigFileStore } from "./big_file_store.ts";
import { bytesEqual, concatBytes, toHex, u32Hex } from "./binary.ts";
import { crc32c, sha256 } from "./checksum.ts";
import { DEFAULT_SUFFIX_BYTES, FOOTER_SIZE, HEADER_SIZE } from "./constants.ts";
import { decodeFooter, type Footer } from "./footer.ts";
import {
  checkEntry,
  decodeIndex,
  type IndexBounds,
  type IndexEntry,
  type IndexView,
} from "./index.ts";
import {
  type ContainerDescriptor,
  decodeDescriptor,
  decodeFileMeta,
  type FileMeta,
} from "./meta.ts";
import type { RangeSource } from "./range_source.ts";
import { checkedStream, readExactly } from "./streams.ts";
import { verifyContainer, type VerifyProgress, type VerifyReport } from "./verify.ts";

const encoder = new TextEncoder();

/** Options of {@linkcode DesReader.open} and {@linkcode DesReader.fromTail}. */
export interface DesReaderOptions {
  /** Size of the single suffix read of a cold open (default 256 KiB, at least 64). */
  suffixBytes?: number;
  /** Store holding the container's big files (needed to read external files). */
  bigFiles?: BigFileStore;
}

/** A byte range inside one file. */
export interface FileRange {
  /** First byte, relative to the start of the file. */
  offset: number;
  /** Number of bytes. */
  length: number;
}

/**
 * Reads one container.
 *
 * @example
 * ```ts
 * const reader = await DesReader.open(await FileRangeSource.open("/tmp/a.des"));
 * const bytes = await reader.readFile("hello.txt");
 * ```
 */
export class DesReader {
  /** Where the container is read from. */
  readonly source: RangeSource;
  /** Container size in bytes. */
  readonly size: number;
  /** The decoded FOOTER. */
  readonly footer: Footer;
  /** The container descriptor (first in META). */
  readonly descriptor: ContainerDescriptor;
  /** META..end bytes (META + INDEX + FOOTER), to cache and reopen with `fromTail`. */
  readonly tail: Uint8Array;
  /** Store holding big files, if given. */
  readonly bigFiles?: BigFileStore;
  readonly #index: IndexView;
  readonly #bounds: IndexBounds;

  private constructor(
    source: RangeSource,
    size: number,
    footer: Footer,
    tail: Uint8Array,
    options: DesReaderOptions,
  ) {
    const metaBytes = tail.subarray(0, footer.metaLength);
    const indexBytes = tail.subarray(footer.metaLength, footer.metaLength + footer.indexLength);
    checkCrc("META", metaBytes, footer.metaCrc32c, source.url);
    checkCrc("INDEX", indexBytes, footer.indexCrc32c, source.url);
    const descriptor = decodeDescriptor(metaBytes.subarray(0, footer.descriptorLength));
    if (descriptor.entryCount !== footer.entryCount) {
      throw new DesFormatError("descriptor and footer disagree on the entry count", {
        container: source.url,
        descriptor: descriptor.entryCount,
        footer: footer.entryCount,
      });
    }
    this.source = source;
    this.size = size;
    this.footer = footer;
    this.descriptor = descriptor;
    this.tail = tail;
    this.bigFiles = options.bigFiles;
    this.#bounds = {
      dataStart: HEADER_SIZE,
      dataEnd: footer.metaOffset,
      metaRecordsStart: footer.metaOffset + footer.descriptorLength,
      metaEnd: footer.metaOffset + footer.metaLength,
    };
    this.#index = decodeIndex(indexBytes, footer.entryCount, this.#bounds);
  }

  /**
   * Open a container: one `readSuffix(suffixBytes)` when META+INDEX+FOOTER
   * fit in it, otherwise exactly one more `read()` of the rest of the tail.
   */
  static async open(source: RangeSource, options: DesReaderOptions = {}): Promise<DesReader> {
    const suffixBytes = options.suffixBytes ?? DEFAULT_SUFFIX_BYTES;
    if (!Number.isSafeInteger(suffixBytes) || suffixBytes < FOOTER_SIZE) {
      throw new DesInputError(`suffixBytes must be an integer >= ${FOOTER_SIZE}`, { suffixBytes });
    }
    const { bytes, size } = await source.readSuffix(suffixBytes);
    checkContainerSize(size, source.url);
    if (bytes.byteLength !== Math.min(suffixBytes, size)) {
      throw new DesFormatError("suffix read returned the wrong number of bytes", {
        container: source.url,
        expected: Math.min(suffixBytes, size),
        actual: bytes.byteLength,
      });
    }
    const footer = decodeFooter(bytes.subarray(bytes.byteLength - FOOTER_SIZE), size);
    const tailLength = size - footer.metaOffset;
    let tail: Uint8Array;
    if (tailLength < bytes.byteLength) {
      tail = bytes.slice(bytes.byteLength - tailLength);
    } else if (tailLength === bytes.byteLength) {
      tail = bytes;
    } else {
      const rest = await source.read(footer.metaOffset, tailLength - bytes.byteLength);
      if (rest.byteLength !== tailLength - bytes.byteLength) {
        throw new DesFormatError("short read of the container tail", {
          container: source.url,
          expected: tailLength - bytes.byteLength,
          actual: rest.byteLength,
        });
      }
      tail = concatBytes([rest, bytes]);
    }
    return new DesReader(source, size, footer, tail, options);
  }

  /** Reopen a container from a cached `tail` and its total `size`, without I/O. */
  static fromTail(
    source: RangeSource,
    tail: Uint8Array,
    size: number,
    options: DesReaderOptions = {},
  ): DesReader {
    checkContainerSize(size, source.url);
    if (tail.byteLength < FOOTER_SIZE) {
      throw new DesFormatError("cached tail is shorter than a footer", {
        container: source.url,
        length: tail.byteLength,
      });
    }
    const footer = decodeFooter(tail.subarray(tail.byteLength - FOOTER_SIZE), size);
    if (tail.byteLength !== size - footer.metaOffset) {
      throw new DesFormatError("cached tail length does not match the footer", {
        container: source.url,
        expected: size - footer.metaOffset,
        actual: tail.byteLength,
      });
    }
    return new DesReader(source, size, footer, tail, options);
  }

  /** Number of files. */
  get entryCount(): number {
    return this.#index.count;
  }

  /** All entries in name order. */
  *entries(): IterableIterator<IndexEntry> {
    for (let i = 0; i < this.#index.count; i++) yield this.#index.entryAt(i);
  }

  /** The entry named `name` (binary search in the INDEX bytes), or `undefined`. */
  find(name: string): IndexEntry | undefined {
    if (typeof name !== "string" || !name.isWellFormed()) return undefined;
    const at = this.#index.findIndex(encoder.encode(name));
    return at < 0 ? undefined : this.#index.entryAt(at);
  }

  /** The meta record of `entry`. */
  meta(entry: IndexEntry): FileMeta {
    checkEntry(entry, this.#bounds);
    const start = entry.metaOffset - this.footer.metaOffset;
    return decodeFileMeta(this.tail.subarray(start, start + entry.metaLength));
  }

  /**
   * Read a whole file with exactly one range request and check its CRC-32C
   * and SHA-256 (`DesChecksumError` naming the file on mismatch).
   */
  async readFile(entryOrName: IndexEntry | string): Promise<Uint8Array> {
    const entry = this.#resolve(entryOrName);
    let bytes: Uint8Array;
    if (entry.external) {
      bytes = await this.#readExternal(entry);
    } else if (entry.size === 0) {
      bytes = new Uint8Array(0);
    } else {
      bytes = await this.source.read(entry.dataOffset, entry.size);
      if (bytes.byteLength !== entry.size) throw this.#lengthError(entry, bytes.byteLength);
    }
    const crc = crc32c(bytes);
    if (crc !== entry.crc32c) {
      throw this.#checksumError(entry, "crc32c", u32Hex(entry.crc32c), u32Hex(crc));
    }
    const digest = sha256(bytes);
    if (!bytesEqual(digest, entry.sha256)) {
      throw this.#checksumError(entry, "sha256", toHex(entry.sha256), toHex(digest));
    }
    return bytes;
  }

  /**
   * Stream a file, or a range of it, with one range request. A full-file
   * stream checks the CRC-32C at the end and errors with `DesChecksumError`
   * on mismatch; a sub-range is only checked for its length.
   */
  async stream(
    entryOrName: IndexEntry | string,
    range?: FileRange,
  ): Promise<ReadableStream<Uint8Array>> {
    const entry = this.#resolve(entryOrName);
    const { offset, length } = range ?? { offset: 0, length: entry.size };
    if (
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
      offset + length > entry.size
    ) {
      throw new DesInputError("range outside the file", {
        name: entry.name,
        size: entry.size,
        offset,
        length,
      });
    }
    const whole = offset === 0 && length === entry.size;
    const check = checkedStream(length, {
      crc32c: whole,
      lengthError: (actual) => this.#lengthError(entry, actual),
      onEnd: (digests) =>
        whole && digests.crc32c !== entry.crc32c
          ? this.#checksumError(entry, "crc32c", u32Hex(entry.crc32c), u32Hex(digests.crc32c!))
          : undefined,
    });
    let body: ReadableStream<Uint8Array>;
    if (length === 0) {
      body = new ReadableStream({ start: (controller) => controller.close() });
    } else if (entry.external) {
      body = (await this.#getExternal(entry, { offset, length })).body;
    } else {
      body = await this.source.stream(entry.dataOffset + offset, length);
    }
    return body.pipeThrough(check.transform);
  }

  /**
   * Check the whole container: header, every file's CRC-32C and SHA-256
   * (DATA read sequentially in large chunks), the META, INDEX and FOOTER
   * checksums and the layout. Bad files are listed by name.
   */
  verify(onProgress?: (progress: VerifyProgress) => void): Promise<VerifyReport> {
    return verifyContainer(this, onProgress);
  }

  #resolve(entryOrName: IndexEntry | string): IndexEntry {
    if (typeof entryOrName !== "string") {
      checkEntry(entryOrName, this.#bounds);
      return entryOrName;
    }
    const entry = this.find(entryOrName);
    if (!entry) {
      throw new DesNotFoundError(`no file ${JSON.stringify(entryOrName)} in the container`, {
        name: entryOrName,
        container: this.source.url,
      });
    }
    return entry;
  }

  #bigFileStore(entry: IndexEntry): BigFileStore {
    if (!this.bigFiles) {
      throw new DesInputError("file is stored externally and the reader has no bigFiles store", {
        name: entry.name,
        container: this.source.url,
      });
    }
    return this.bigFiles;
  }

  #externalKey(entry: IndexEntry): string {
    const key = this.meta(entry).externalKey;
    if (key === undefined) {
      throw new DesFormatError("external file has no externalKey in its meta record", {
        name: entry.name,
        container: this.source.url,
      });
    }
    return key;
  }

  /** Get an external file's object; a missing or invalid key is a broken container. */
  async #getExternal(entry: IndexEntry, range?: FileRange): Promise<BigFileBody> {
    const store = this.#bigFileStore(entry);
    const key = this.#externalKey(entry);
    try {
      return await store.get(key, range ? { range } : {});
    } catch (error) {
      if (error instanceof DesNotFoundError || error instanceof DesInputError) {
        throw new DesFormatError(`big-file object of ${JSON.stringify(entry.name)} is unusable`, {
          name: entry.name,
          container: this.source.url,
          key,
          reason: error.message,
        }, error);
      }
      throw error;
    }
  }

  async #readExternal(entry: IndexEntry): Promise<Uint8Array> {
    const result = await this.#getExternal(entry);
    if (result.length !== entry.size) {
      await result.body.cancel().catch(() => {});
      throw this.#lengthError(entry, result.length);
    }
    return await readExactly(result.body, entry.size, (actual) => this.#lengthError(entry, actual));
  }

  #lengthError(entry: IndexEntry, actual: number): DesFormatError {
    return new DesFormatError(`file ${JSON.stringify(entry.name)} has the wrong length`, {
      name: entry.name,
      container: this.source.url,
      expected: entry.size,
      actual,
    });
  }

  #checksumError(
    entry: IndexEntry,
    check: "crc32c" | "sha256",
    expected: string,
    actual: string,
  ): DesChecksumError {
    return new DesChecksumError(`${check} mismatch in file ${JSON.stringify(entry.name)}`, {
      name: entry.name,
      container: this.source.url,
      check,
      expected,
      actual,
    });
  }
}

function checkContainerSize(size: number, url: string): void {
  if (!Number.isSafeInteger(size) || size < HEADER_SIZE + FOOTER_SIZE) {
    throw new DesFormatError("too small to be a DES container", { container: url, size });
  }
}

function checkCrc(part: string, bytes: Uint8Array, expected: number, url: string): void {
  const actual = crc32c(bytes);
  if (actual !== expected) {
    throw new DesChecksumError(`${part} CRC-32C mismatch`, {
      part,
      container: url,
      expected: u32Hex(expected),
      actual: u32Hex(actual),
    });
  }
}
