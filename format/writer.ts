/**
 * `DesWriter`: writes a DES v1 container append-only in one pass. File
 * bodies go to the sink as they are added; META records and INDEX entries
 * are kept as packed bytes (no object per file) and written by `finish()`,
 * so memory is bounded by the tail of the container (plus one inline file
 * while a stream body is read), not by the data. Files above the big-file
 * threshold become separate objects.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import { fromHex, toHex, viewOf } from "./binary.ts";
import { bigFileKey } from "./big_file_key.ts";
import type { BigFileStore } from "./big_file_store.ts";
import { BufferedSink } from "./buffered_sink.ts";
import { Crc32c, crc32c, sha256 } from "./checksum.ts";
import {
  CONTAINER_ID_BYTES,
  DEFAULT_BIG_FILE_THRESHOLD,
  ENTRY_SIZE,
  FLAG_EXTERNAL,
  FOOTER_FIELDS,
  FOOTER_SIZE,
  FORMAT_VERSION,
  HEADER_SIZE,
  MAX_DESCRIPTOR_BYTES,
  MAX_NAME_BYTES,
  MAX_TAIL_BYTES,
  WRITER_ID,
} from "./constants.ts";
import { encodeFooter } from "./footer.ts";
import { encodeHeader } from "./header.ts";
import type { IndexEntry } from "./index.ts";
import {
  type ContainerDescriptor,
  encodeDescriptor,
  encodeFileMeta,
  type FileMeta,
} from "./meta.ts";
import { encodeName } from "./names.ts";
import { PagedLog } from "./paged_log.ts";
import { PendingIndex } from "./pending_index.ts";
import type { ContainerSink } from "./sink.ts";
import { checkedStream, readExactly } from "./streams.ts";

/** Options of {@linkcode DesWriter.create}. */
export interface DesWriterOptions {
  /** Files larger than this many bytes become separate objects (default 16 MiB). */
  bigFileThreshold?: number;
  /** Where big files go: `<prefix>_bigFiles/<container-id>/<name>` in `store`. */
  bigFiles?: { store: BigFileStore; prefix?: string };
  /** Shard recorded in the descriptor. */
  shard?: number;
  /** Source system recorded in the descriptor. */
  source?: string;
  /** Free-form attributes recorded in the descriptor. */
  attrs?: Record<string, string>;
  /** Clock for the creation time (ms since the epoch); default `Date.now`. */
  now?: () => number;
  /** Container id as 32 hex digits (default: 16 random bytes); for reproducible output. */
  containerId?: string;
}

/** Metadata of an added file; `size` is required for stream bodies. */
export type AddMeta = FileMeta & { size?: number };

/** What {@linkcode DesWriter.finish} reports about the written container. */
export interface ContainerSummary {
  /** Container id (hex). */
  containerId: string;
  /** Total size in bytes. */
  size: number;
  /** Number of files. */
  entryCount: number;
  /** Bytes of DATA (inline file bodies). */
  dataBytes: number;
  /** Length of META + INDEX + FOOTER: a suffix read of this size opens the container. */
  tailLength: number;
  /** CRC-32C of INDEX. */
  indexCrc32c: number;
  /** CRC-32C of META. */
  metaCrc32c: number;
  /** CRC-32C of the FOOTER (its own checksum field). */
  footerCrc32c: number;
  /** Smallest name. */
  firstName?: string;
  /** Largest name. */
  lastName?: string;
  /** Keys of the big-file objects written to the big-file store. */
  bigFileKeys: string[];
}

/** Checksums of an inline body computed by the caller (e.g. in a worker that read the file). */
export interface BodyChecksums {
  /** CRC-32C of the body. */
  crc32c: number;
  /** SHA-256 of the body (32 bytes). */
  sha256: Uint8Array;
}

/** One file of {@linkcode DesWriter.appendRun}. */
export interface RunFile {
  /** File name. */
  name: string;
  /** Body length in bytes. */
  size: number;
  /** Its metadata (`externalKey` must be absent: run files are inline). */
  meta: FileMeta;
}

/** Checksums of the bodies of a run, computed by the caller, one per file in order. */
export interface RunChecksums {
  /** CRC-32C of each body. */
  crc32c: ArrayLike<number>;
  /** SHA-256 of each body, 32 bytes each, back to back. */
  sha256: Uint8Array;
}

/** An entry handed out by `add`, completed with its meta offset by `finish`. */
interface Returned {
  entry: IndexEntry;
  metaRelative: number;
}

interface Content {
  dataOffset: number;
  crc32c: number;
  sha256: Uint8Array;
}

type State = "open" | "finished" | "failed" | "aborted";

/** Room left in the descriptor for the first and last names (JSON-escaped, worst case). */
const NAME_ROOM = 2 * (6 * MAX_NAME_BYTES + 32);

/**
 * Writes one container.
 *
 * @example
 * ```ts
 * const writer = await DesWriter.create(await FileSink.create("/tmp/a.des"));
 * await writer.add("hello.txt", new TextEncoder().encode("hi"), { contentType: "text/plain" });
 * const summary = await writer.finish();
 * ```
 */
export class DesWriter {
  /** Container id, 32 hex digits. */
  readonly containerId: string;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
  readonly #sink: BufferedSink;
  readonly #threshold: number;
  readonly #bigFiles?: { store: BigFileStore; prefix: string };
  readonly #descriptorExtras: Pick<ContainerDescriptor, "shard" | "source" | "attrs">;
  readonly #index = new PendingIndex();
  readonly #metaRecords = new PagedLog();
  readonly #returned: Returned[] = [];
  readonly #bigFileKeys: string[] = [];
  #offset = HEADER_SIZE;
  #state: State = "open";
  #failure?: unknown;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    sink: BufferedSink,
    containerId: string,
    createdAt: number,
    threshold: number,
    bigFiles: { store: BigFileStore; prefix: string } | undefined,
    extras: Pick<ContainerDescriptor, "shard" | "source" | "attrs">,
  ) {
    this.#sink = sink;
    this.containerId = containerId;
    this.createdAt = createdAt;
    this.#threshold = threshold;
    this.#bigFiles = bigFiles;
    this.#descriptorExtras = extras;
  }

  /** Validate the options and write the HEADER. */
  static async create(sink: ContainerSink, options: DesWriterOptions = {}): Promise<DesWriter> {
    const threshold = options.bigFileThreshold ?? DEFAULT_BIG_FILE_THRESHOLD;
    if (typeof threshold !== "number" || !(threshold >= 0)) {
      throw new DesInputError("bigFileThreshold must be a number >= 0", { threshold });
    }
    const idBytes = options.containerId === undefined
      ? crypto.getRandomValues(new Uint8Array(CONTAINER_ID_BYTES))
      : fromHex(options.containerId, "containerId");
    if (idBytes.byteLength !== CONTAINER_ID_BYTES) {
      throw new DesInputError("containerId must be 32 hex digits", {
        containerId: options.containerId,
      });
    }
    const createdAt = (options.now ?? Date.now)();
    if (!Number.isSafeInteger(createdAt) || createdAt < 0) {
      throw new DesInputError("now() must return a non-negative integer (ms)", { createdAt });
    }
    const extras: Pick<ContainerDescriptor, "shard" | "source" | "attrs"> = {};
    if (options.shard !== undefined) extras.shard = options.shard;
    if (options.source !== undefined) extras.source = options.source;
    if (options.attrs !== undefined) extras.attrs = options.attrs;
    const containerId = toHex(idBytes);
    const trial = encodeDescriptor({
      formatVersion: FORMAT_VERSION,
      containerId,
      createdAt,
      writer: WRITER_ID,
      entryCount: 0xffffffff,
      ...extras,
    });
    if (trial.byteLength > MAX_DESCRIPTOR_BYTES - NAME_ROOM) {
      throw new DesInputError("descriptor attrs/source are too large", {
        length: trial.byteLength,
        limit: MAX_DESCRIPTOR_BYTES - NAME_ROOM,
      });
    }
    const bigFiles = options.bigFiles
      ? { store: options.bigFiles.store, prefix: options.bigFiles.prefix ?? "" }
      : undefined;
    const buffered = new BufferedSink(sink);
    await buffered.write(encodeHeader(idBytes, createdAt));
    return new DesWriter(buffered, containerId, createdAt, threshold, bigFiles, extras);
  }

  /** Container bytes produced so far (handed to the sink or buffered for it). */
  get bytesWritten(): number {
    return this.#offset;
  }

  /** Number of files added so far. */
  get entryCount(): number {
    return this.#index.count;
  }

  /**
   * Add a file. A stream body needs `meta.size` and must deliver exactly that
   * many bytes. Invalid input (bad or duplicate name, bad meta, a meta record
   * above 64 KiB, a wrong stream length) is a `DesInputError` that leaves the
   * writer usable. The returned entry's `metaOffset` is filled in by
   * `finish()`, when the position of META is known; treat the entry as
   * read-only. Calls are serialized. A body of 1 MiB or more may be handed
   * to the sink as is, so do not reuse its buffer before `add` resolves.
   */
  add(
    name: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    meta: AddMeta = {},
  ): Promise<IndexEntry> {
    return this.#serialized(async () => {
      const entry = await this.#add(name, body, meta);
      this.#returned.push({ entry, metaRelative: entry.metaOffset });
      entry.metaOffset = 0;
      return entry;
    });
  }

  /**
   * Like {@linkcode add}, for callers that add very many files: nothing is
   * returned and nothing per file is kept beyond its packed INDEX entry and
   * META record. `checksums`, when given, must have been computed over
   * exactly `body` (a `Uint8Array`), e.g. by the worker that read the file;
   * the writer then does not hash the body again.
   */
  append(
    name: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    meta: AddMeta = {},
    checksums?: BodyChecksums,
  ): Promise<void> {
    return this.#serialized(async () => void await this.#add(name, body, meta, checksums));
  }

  /**
   * Append a run of inline files whose bodies lie back to back in `data`, in
   * order (`files[i].size` bytes each, summing to `data.byteLength`), with one
   * sink write for all of them and no promise per file: the fast path of
   * `des pack-dir`. Every file is checked first (name, duplicate, size up to
   * the big-file threshold, meta record, capacity); a `DesInputError` leaves
   * the writer usable and nothing of the run written. `checksums`, when
   * given, must have been computed over exactly each body. `data` shorter
   * than `DEFAULT_SINK_CHUNK` (1 MiB, `buffered_sink.ts`) is copied, so its buffer may be
   * reused once the returned promise resolves; longer `data` goes to the
   * sink as is and the sink may keep it.
   */
  appendRun(
    files: readonly RunFile[],
    data: Uint8Array,
    checksums?: RunChecksums,
  ): Promise<void> {
    return this.#serialized(() => this.#appendRun(files, data, checksums));
  }

  /** Write META, INDEX and FOOTER and close the sink. */
  finish(): Promise<ContainerSummary> {
    return this.#serialized(() => this.#finish());
  }

  /** Abort the sink and delete the big-file objects written so far; a no-op after `finish()`. */
  async abort(): Promise<void> {
    if (this.#state === "finished" || this.#state === "aborted") return;
    this.#state = "aborted";
    let sinkError: unknown;
    await this.#sink.abort().catch((error) => sinkError = error);
    await this.#queue;
    const store = this.#bigFiles?.store;
    for (const key of this.#bigFileKeys.splice(0)) await store?.delete(key).catch(() => {});
    if (sinkError !== undefined) throw sinkError;
  }

  #serialized<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => {});
    return result;
  }

  #checkOpen(): void {
    if (this.#state === "open") return;
    const why = this.#failure instanceof Error ? `: ${this.#failure.message}` : "";
    throw new DesInputError(`container writer is ${this.#state}${why}`, {
      containerId: this.containerId,
    });
  }

  /** Add one file; the returned entry carries the meta offset relative to the first record. */
  async #add(
    name: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    meta: AddMeta,
    checksums?: BodyChecksums,
  ): Promise<IndexEntry> {
    let nameBytes: Uint8Array, size: number, record: Uint8Array, key: string | undefined;
    try {
      this.#checkOpen();
      nameBytes = encodeName(name);
      if (this.#index.has(nameBytes)) throw new DesInputError("duplicate file name", { name });
      size = bodySize(name, body, meta.size);
      if (checksums !== undefined && !(body instanceof Uint8Array)) {
        throw new DesInputError("checksums can only accompany a Uint8Array body", { name });
      }
      if (meta.externalKey !== undefined) {
        throw new DesInputError("externalKey is set by the writer", { name });
      }
      if (size > this.#threshold) {
        if (!this.#bigFiles) {
          throw new DesInputError("file is above bigFileThreshold and no bigFiles store is set", {
            name,
            size,
            threshold: this.#threshold,
          });
        }
        key = bigFileKey(this.#bigFiles.prefix, this.containerId, name);
      }
      const { size: _size, ...fileMeta } = meta;
      record = encodeFileMeta({ ...fileMeta, externalKey: key });
      this.#checkCapacity(name, 1, nameBytes.byteLength, record.byteLength);
    } catch (error) {
      if (body instanceof ReadableStream) await body.cancel(error).catch(() => {});
      throw error;
    }
    const content = key === undefined
      ? await this.#writeInline(name, body, size, checksums)
      : await this.#writeExternal(name, key, body, size);
    const flags = key === undefined ? 0 : FLAG_EXTERNAL;
    const metaRelative = this.#metaRecords.append(record);
    this.#index.push({
      nameBytes,
      flags,
      dataOffset: content.dataOffset,
      size,
      metaRelative,
      metaLength: record.byteLength,
      crc32c: content.crc32c,
      sha256: content.sha256,
    });
    return {
      name,
      flags,
      external: key !== undefined,
      dataOffset: content.dataOffset,
      size,
      metaOffset: metaRelative,
      metaLength: record.byteLength,
      crc32c: content.crc32c,
      sha256: content.sha256,
    };
  }

  /** Whether `added` more entries with these name and record bytes still fit the tail. */
  #checkCapacity(name: string, added: number, nameLength: number, recordLength: number): void {
    const count = this.#index.count + added;
    const tail = MAX_DESCRIPTOR_BYTES + this.#metaRecords.length + recordLength +
      count * ENTRY_SIZE + this.#index.nameBytes + nameLength + FOOTER_SIZE;
    if (tail > MAX_TAIL_BYTES || count > 0xffffffff) {
      throw new DesInputError("container is full: META+INDEX would exceed the format limit", {
        name,
        entryCount: count,
        limit: MAX_TAIL_BYTES,
      });
    }
  }

  async #appendRun(
    files: readonly RunFile[],
    data: Uint8Array,
    checksums?: RunChecksums,
  ): Promise<void> {
    this.#checkOpen();
    const count = files.length;
    const nameBytes: Uint8Array[] = new Array(count);
    const records: Uint8Array[] = new Array(count);
    const inRun = new Set<string>();
    let total = 0, nameLength = 0, recordLength = 0;
    for (let i = 0; i < count; i++) {
      const { name, size, meta } = files[i];
      nameBytes[i] = encodeName(name);
      if (this.#index.has(nameBytes[i]) || inRun.has(name)) {
        throw new DesInputError("duplicate file name", { name });
      }
      inRun.add(name);
      if (!Number.isSafeInteger(size) || size < 0 || size > this.#threshold) {
        throw new DesInputError("a file of a run must be inline: 0 <= size <= bigFileThreshold", {
          name,
          size,
          threshold: this.#threshold,
        });
      }
      if (meta.externalKey !== undefined) {
        throw new DesInputError("externalKey is set by the writer", { name });
      }
      records[i] = encodeFileMeta(meta);
      total += size;
      nameLength += nameBytes[i].byteLength;
      recordLength += records[i].byteLength;
      this.#checkCapacity(name, i + 1, nameLength, recordLength);
    }
    if (total !== data.byteLength) {
      throw new DesInputError("the sizes of a run differ from its data length", {
        total,
        dataLength: data.byteLength,
      });
    }
    const dataOffset = this.#offset;
    try {
      await this.#sink.write(data);
    } catch (error) {
      this.#state = "failed";
      this.#failure = error;
      throw error;
    }
    this.#offset += total;
    for (let i = 0, at = 0; i < count; i++) {
      const size = files[i].size;
      const body = data.subarray(at, at + size);
      this.#index.push({
        nameBytes: nameBytes[i],
        flags: 0,
        dataOffset: dataOffset + at,
        size,
        metaRelative: this.#metaRecords.append(records[i]),
        metaLength: records[i].byteLength,
        crc32c: checksums ? checksums.crc32c[i] : crc32c(body),
        sha256: checksums ? checksums.sha256.subarray(i * 32, i * 32 + 32) : sha256(body),
      });
      at += size;
    }
  }

  async #writeInline(
    name: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    size: number,
    checksums?: BodyChecksums,
  ): Promise<Content> {
    const bytes = body instanceof Uint8Array
      ? body
      : await readExactly(body, size, (actual) => streamLengthError(name, size, actual));
    this.#checkOpen();
    const content = {
      dataOffset: this.#offset,
      crc32c: checksums?.crc32c ?? crc32c(bytes),
      sha256: checksums?.sha256 ?? sha256(bytes),
    };
    try {
      await this.#sink.write(bytes);
    } catch (error) {
      this.#state = "failed";
      this.#failure = error;
      throw error;
    }
    this.#offset += size;
    return content;
  }

  async #writeExternal(
    name: string,
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    size: number,
  ): Promise<Content> {
    const store = this.#bigFiles!.store;
    this.#bigFileKeys.push(key);
    const check = body instanceof Uint8Array ? undefined : checkedStream(size, {
      crc32c: true,
      sha256: true,
      lengthError: (actual) => streamLengthError(name, size, actual),
    });
    try {
      if (body instanceof Uint8Array) {
        await store.put(key, body, { contentLength: size });
      } else {
        await store.put(key, body.pipeThrough(check!.transform), { contentLength: size });
      }
      this.#checkOpen();
    } catch (error) {
      this.#bigFileKeys.splice(this.#bigFileKeys.indexOf(key), 1);
      await store.delete(key).catch(() => {});
      throw check?.error() ?? error;
    }
    if (body instanceof Uint8Array) {
      return { dataOffset: 0, crc32c: crc32c(body), sha256: sha256(body) };
    }
    const digests = check!.digests();
    return { dataOffset: 0, crc32c: digests.crc32c!, sha256: digests.sha256! };
  }

  async #finish(): Promise<ContainerSummary> {
    this.#checkOpen();
    const index = this.#index;
    const order = index.sortedOrder();
    const count = order.length;
    const firstName = count > 0 ? index.nameAt(order[0]) : undefined;
    const lastName = count > 0 ? index.nameAt(order[count - 1]) : undefined;
    const metaOffset = this.#offset;
    const descriptor = encodeDescriptor({
      formatVersion: FORMAT_VERSION,
      containerId: this.containerId,
      createdAt: this.createdAt,
      writer: WRITER_ID,
      entryCount: count,
      firstName,
      lastName,
      ...this.#descriptorExtras,
    });
    const recordsStart = metaOffset + descriptor.byteLength;
    const metaLength = descriptor.byteLength + this.#metaRecords.length;
    const indexLength = index.encodedLength;
    const indexOffset = metaOffset + metaLength;
    let metaCrc32c = 0, indexCrc32c = 0, footer: Uint8Array;
    try {
      // META and INDEX go out piece by piece (their CRCs computed on the
      // way), so neither is held whole a second time; the FOOTER last.
      const metaCrc = new Crc32c().update(descriptor);
      await this.#sink.write(descriptor);
      for (const page of this.#metaRecords.pages()) {
        metaCrc.update(page);
        await this.#sink.write(page);
      }
      metaCrc32c = metaCrc.digest();
      const indexCrc = new Crc32c();
      for (const piece of index.encodePieces(order, recordsStart)) {
        indexCrc.update(piece);
        await this.#sink.write(piece);
      }
      indexCrc32c = indexCrc.digest();
      footer = encodeFooter({
        metaOffset,
        metaLength,
        indexOffset,
        indexLength,
        entryCount: count,
        descriptorLength: descriptor.byteLength,
        metaCrc32c,
        indexCrc32c,
      });
      await this.#sink.write(footer);
      await this.#sink.close();
    } catch (error) {
      this.#state = "failed";
      this.#failure = error;
      throw error;
    }
    this.#state = "finished";
    for (const { entry, metaRelative } of this.#returned) {
      entry.metaOffset = recordsStart + metaRelative;
    }
    const size = indexOffset + indexLength + footer.byteLength;
    this.#offset = size;
    return {
      containerId: this.containerId,
      size,
      entryCount: count,
      dataBytes: metaOffset - HEADER_SIZE,
      tailLength: size - metaOffset,
      indexCrc32c,
      metaCrc32c,
      footerCrc32c: viewOf(footer).getUint32(FOOTER_FIELDS.crc32c, true),
      firstName,
      lastName,
      bigFileKeys: [...this.#bigFileKeys],
    };
  }
}

function bodySize(
  name: string,
  body: Uint8Array | ReadableStream<Uint8Array>,
  declared: number | undefined,
): number {
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    throw new DesInputError("meta.size must be a non-negative integer", { name, size: declared });
  }
  if (body instanceof Uint8Array) {
    if (declared !== undefined && declared !== body.byteLength) {
      throw new DesInputError("meta.size differs from the body length", {
        name,
        size: declared,
        bodyLength: body.byteLength,
      });
    }
    return body.byteLength;
  }
  if (!(body instanceof ReadableStream)) {
    throw new DesInputError("body must be a Uint8Array or a ReadableStream", { name });
  }
  if (declared === undefined) {
    throw new DesInputError("a stream body needs meta.size", { name });
  }
  return declared;
}

function streamLengthError(name: string, size: number, actual: number): DesInputError {
  return new DesInputError(
    `stream body of ${JSON.stringify(name)} is ${
      actual > size ? "longer" : "shorter"
    } than meta.size`,
    { name, size, actual },
  );
}
