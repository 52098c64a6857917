/**
 * {@linkcode ContainerBuild}: one container from its `building` record to
 * its `uploaded` record. The catalog row (state `building`, planned key
 * `<source>/<shard hex>/<container id>.des`) is written before any byte
 * reaches the archive; the container is written to the workdir and uploaded
 * when finished, or streamed straight into a multipart upload.
 *
 * @module
 */

import { contentTypeFor } from "../core/content_type.ts";
import { createContainerFenced } from "../db/fenced_containers.ts";
import { DesChecksumError } from "../core/errors.ts";
import { bytesEqual } from "../format/binary.ts";
import type { IndexEntry } from "../format/index.ts";
import type { FileMeta } from "../format/meta.ts";
import type { DesReader } from "../format/reader.ts";
import { FileSink } from "../format/file_sink.ts";
import type { ContainerSink } from "../format/sink.ts";
import { DesWriter } from "../format/writer.ts";
import type { OriginalFile } from "../parent/originals.ts";
import type { ParentRow } from "../parent/parent_table.ts";
import { localContainerPath } from "./container_cleanup.ts";
import { PARENT_ID_ATTR } from "./container_files.ts";
import {
  abortContainer,
  advance,
  type ContainerRecord,
  type PackedFile,
} from "./container_steps.ts";
import { bigFilePrefixOf, containerKey } from "./layout.ts";
import type { WriterFacts } from "./verify_upload.ts";
import type { PackContext } from "./pack_context.ts";
import type { ShardLease } from "./shard_lease.ts";
import { inSpan } from "../core/spans.ts";

/** Content type of container objects. */
export const CONTAINER_CONTENT_TYPE = "application/vnd.des.container";

/** A container recorded as `uploaded`, and the writer's facts its verification checks too. */
export interface UploadedContainer {
  /** The catalog record, state `uploaded`. */
  record: ContainerRecord;
  /** META checksum and tail length from the writer. */
  check: WriterFacts;
}

/** How containers are built. */
export interface BuildOptions {
  /** Files above this size become `_bigFiles/` objects. */
  bigFileThreshold: number;
  /** Stream into a multipart upload instead of writing to the workdir first. */
  streamUpload: boolean;
}

/** A container being written. */
export class ContainerBuild {
  /** Files added so far, with their parent rows. */
  readonly files: PackedFile[] = [];
  /** Content bytes added so far (inline and big files). */
  contentBytes = 0;
  /** Content bytes stored inside the container. */
  inlineBytes = 0;
  /** When the build started (ms, `performance.now()`). */
  readonly startedAt = performance.now();
  readonly #ctx: PackContext;
  readonly #lease: ShardLease;
  readonly #writer: DesWriter;
  readonly #localPath?: string;
  readonly #threshold: number;
  readonly #record: ContainerRecord;

  private constructor(
    ctx: PackContext,
    lease: ShardLease,
    record: ContainerRecord,
    writer: DesWriter,
    threshold: number,
    localPath: string | undefined,
  ) {
    this.#ctx = ctx;
    this.#lease = lease;
    this.#record = record;
    this.#writer = writer;
    this.#threshold = threshold;
    this.#localPath = localPath;
  }

  /**
   * Record the container as `building` under the lease (with the containers
   * it replaces, when compaction writes it), then open its writer.
   */
  static async start(
    ctx: PackContext,
    lease: ShardLease,
    source: string,
    options: BuildOptions,
    compactedFrom?: readonly string[],
  ): Promise<ContainerBuild> {
    const containerId = randomContainerId();
    const key = containerKey(source, lease.shard, ctx.shardBits, containerId);
    await lease.write((db, fence) =>
      createContainerFenced(db, fence, {
        containerId,
        shard: lease.shard,
        source,
        bucket: ctx.bucket,
        key,
        owner: ctx.owner,
        compactedFrom,
      })
    );
    ctx.onTransition("building", containerId);
    const record: ContainerRecord = {
      containerId,
      shard: lease.shard,
      source,
      key,
      state: "building",
      compactedFrom: compactedFrom ? [...compactedFrom] : null,
    };
    const localPath = options.streamUpload
      ? undefined
      : localContainerPath(ctx.workdir, containerId);
    let sink: ContainerSink | undefined;
    try {
      sink = localPath
        // A staging file: uploaded, verified from the archive, then deleted;
        // after a crash its container is aborted, never resumed from disk.
        ? await FileSink.create(localPath, { sync: false })
        : await ctx.store.createWriter(key, { contentType: CONTAINER_CONTENT_TYPE });
      const writer = await DesWriter.create(sink, {
        bigFileThreshold: options.bigFileThreshold,
        bigFiles: { store: ctx.store, prefix: bigFilePrefixOf(key) },
        shard: lease.shard,
        source,
        containerId,
      });
      return new ContainerBuild(ctx, lease, record, writer, options.bigFileThreshold, localPath);
    } catch (error) {
      await sink?.abort().catch(() => {});
      await abortContainer(ctx, lease, record, `could not start: ${(error as Error).message}`)
        .catch(() => {});
      throw error;
    }
  }

  /** The container id. */
  get containerId(): string {
    return this.#record.containerId;
  }

  /** Whether adding a file of `size` bytes would break the limits (never for an empty container). */
  wouldOverflow(size: number, limits: { maxBytes: number; maxFiles: number }): boolean {
    if (this.files.length === 0) return false;
    const inline = size > this.#threshold ? 0 : size;
    return this.files.length + 1 > limits.maxFiles || this.inlineBytes + inline > limits.maxBytes;
  }

  /** Append the original of `row` under its DES name. */
  async add(row: ParentRow, file: OriginalFile): Promise<void> {
    await this.#writer.add(row.desName, file.body, {
      contentType: row.contentType ?? contentTypeFor(row.location),
      mtime: file.mtime?.getTime(),
      originalLocation: row.location,
      source: this.#record.source,
      attrs: { [PARENT_ID_ATTR]: row.id },
    });
    this.files.push({ id: row.id, desName: row.desName, location: row.location });
    this.contentBytes += file.size;
    if (file.size <= this.#threshold) this.inlineBytes += file.size;
  }

  /**
   * Copy file `entry` of another container (compaction): its bytes with one
   * range read, its meta record as it was (a missing mtime becomes the old
   * container's creation time, which its Last-Modified was). The copy's
   * CRC-32C and SHA-256, computed while writing, must equal the recorded ones
   * (`DesChecksumError` otherwise; the source stream checks its CRC-32C too).
   */
  async copy(from: DesReader, entry: IndexEntry): Promise<void> {
    const meta = copiedMeta(from, entry);
    const body = await from.stream(entry);
    const written = await this.#writer.add(entry.name, body, { ...meta, size: entry.size });
    if (written.crc32c !== entry.crc32c || !bytesEqual(written.sha256, entry.sha256)) {
      throw new DesChecksumError(`copy of ${entry.name} differs from its recorded checksums`, {
        name: entry.name,
        container: from.source.url,
      });
    }
    this.files.push({
      id: meta.attrs?.[PARENT_ID_ATTR] ?? "",
      desName: entry.name,
      location: meta.originalLocation ?? "",
    });
    this.contentBytes += entry.size;
    if (!entry.external) this.inlineBytes += entry.size;
  }

  /**
   * Finish the container, upload it (unless it was streamed), and record
   * `uploaded` with its size, checksums and name range. Returns the record
   * and what verification may check besides it.
   */
  finishAndUpload(): Promise<UploadedContainer> {
    const attributes = { "des.container.id": this.containerId, "des.shard": this.#record.shard };
    return inSpan("des.packer.upload", attributes, () => this.#finishAndUpload());
  }

  async #finishAndUpload(): Promise<UploadedContainer> {
    const summary = await this.#writer.finish();
    if (this.#localPath) {
      await uploadFile(this.#ctx, this.#record.key, this.#localPath, summary.size);
      await Deno.remove(this.#localPath).catch(() => {});
    }
    const facts = {
      size: summary.size,
      fileCount: summary.entryCount,
      dataBytes: this.contentBytes,
      firstName: summary.firstName,
      lastName: summary.lastName,
      indexCrc32c: summary.indexCrc32c,
      footerCrc32c: summary.footerCrc32c,
    };
    await advance(this.#ctx, this.#lease, this.containerId, "building", "uploaded", facts);
    return {
      record: { ...this.#record, ...facts, state: "uploaded" },
      check: { metaCrc32c: summary.metaCrc32c, tailLength: summary.tailLength },
    };
  }

  /** Give the container up: abort the writer and record `aborted`; its rows stay marked. */
  async abandon(reason: string): Promise<void> {
    await this.#writer.abort().catch(() => {});
    await abortContainer(this.#ctx, this.#lease, this.#record, reason);
  }
}

async function uploadFile(
  ctx: PackContext,
  key: string,
  path: string,
  size: number,
): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    await ctx.store.put(key, file.readable, {
      contentLength: size,
      contentType: CONTAINER_CONTENT_TYPE,
    });
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
}

function randomContainerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The meta record a copy of `entry` gets: the recorded one without the
 * external key (the writer sets its own), and with `mtime` set to the old
 * container's creation time when the file has none. A file without an mtime
 * is served with its container's creation time as `Last-Modified`, so the
 * copy keeps the `Last-Modified` (and the ETag) the file had.
 */
export function copiedMeta(from: DesReader, entry: IndexEntry): FileMeta {
  const { externalKey: _, ...meta } = from.meta(entry);
  meta.mtime ??= from.descriptor.createdAt;
  return meta;
}
