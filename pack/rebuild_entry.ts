/**
 * What the catalog must say about a container found in the archive store,
 * worked out from the object alone: its listing (key, size, ETag) and its
 * self-description (descriptor, footer, index), checked against the key
 * layout `<source>/<shard hex>/<container id>.des`. Also the field-by-field
 * comparison of such an entry with an existing catalog row.
 *
 * @module
 */

import { DesConflictError, DesFormatError } from "../core/errors.ts";
import type { ContainerState } from "../db/container_states.ts";
import type { DesReader } from "../format/reader.ts";
import type { ObjectInfo } from "../store/object_store.ts";
import { parseArchiveKey } from "./layout.ts";

/** A catalog row rebuilt from a container object. */
export interface RebuiltContainer {
  /** Container id (lowercase hex), from the descriptor. */
  containerId: string;
  /** Shard, from the descriptor (or the key when the descriptor has none). */
  shard: number;
  /** Source, from the descriptor (or the key when the descriptor has none). */
  source: string;
  /** Bucket recorded in the catalog. */
  bucket: string;
  /** Object key. */
  key: string;
  /** Object size in bytes. */
  size: number;
  /** Object ETag as listed. */
  etag: string;
  /** Files in the container. */
  fileCount: number;
  /** Bytes of file content (inline and big files). */
  dataBytes: number;
  /** Smallest name. */
  firstName: string;
  /** Largest name. */
  lastName: string;
  /** CRC-32C of the INDEX. */
  indexCrc32c: number;
  /** CRC-32C of the FOOTER. */
  footerCrc32c: number;
  /** Creation time recorded by the writer. */
  createdAt: Date;
}

/** The columns of an existing catalog row that a rebuild compares. */
export interface CatalogRowView {
  /** Container id. */
  containerId: string;
  /** Bucket. */
  bucket: string;
  /** Object key. */
  key: string;
  /** Shard. */
  shard: number;
  /** Source. */
  source: string;
  /** Size, once known. */
  size: number | null;
  /** ETag, once known. */
  etag: string | null;
  /** File count, once known. */
  fileCount: number | null;
  /** Smallest name, once known. */
  firstName: string | null;
  /** Largest name, once known. */
  lastName: string | null;
  /** CRC-32C of the INDEX, once known. */
  indexCrc32c: number | null;
  /** CRC-32C of the FOOTER, once known. */
  footerCrc32c: number | null;
  /** Write-ahead state. */
  state: ContainerState;
}

/** One field on which the catalog and the bucket disagree. */
export interface FieldDifference {
  /** Field name (`size`, `etag`, `key` …). */
  field: keyof RebuiltContainer | "state";
  /** What the catalog row says. */
  catalog: unknown;
  /** What the object says. */
  bucket: unknown;
}

/** Shards a catalog can hold (`des_shards.shard` is below 65536). */
const MAX_SHARDS = 65536;

const COMPARED: readonly (keyof RebuiltContainer & keyof CatalogRowView)[] = [
  "containerId",
  "bucket",
  "key",
  "shard",
  "source",
  "size",
  "etag",
  "fileCount",
  "firstName",
  "lastName",
  "indexCrc32c",
  "footerCrc32c",
];

/**
 * The catalog entry of the container `reader` opened from `object`. Throws
 * `DesFormatError` when the container cannot be catalogued (no shard or
 * source anywhere, no files, shard outside `shardCount`, default 65536), and
 * `DesConflictError` when the key layout contradicts the descriptor or the
 * object changed size since it was listed.
 */
export function rebuiltContainerOf(
  reader: DesReader,
  object: ObjectInfo,
  options: { bucket: string; shardCount?: number },
): RebuiltContainer {
  const { descriptor, footer } = reader;
  const context = { key: object.key, containerId: descriptor.containerId };
  const layout = parseArchiveKey(object.key);
  if (layout && layout.kind === "container") {
    const claims: [string, unknown, unknown][] = [
      ["container id", layout.containerId, descriptor.containerId],
      ["shard", layout.shard, descriptor.shard ?? layout.shard],
      ["source", layout.source, descriptor.source ?? layout.source],
    ];
    for (const [what, inKey, inDescriptor] of claims) {
      if (inKey !== inDescriptor) {
        throw new DesConflictError(
          `the key says ${what} ${inKey}, the container descriptor says ${inDescriptor}`,
          { ...context, field: what, inKey, inDescriptor },
        );
      }
    }
  }
  const shard = descriptor.shard ?? layout?.shard;
  const source = descriptor.source ?? layout?.source;
  if (shard === undefined || source === undefined) {
    throw new DesFormatError(
      "the container records no shard or source and its key is not <source>/<shard hex>/<id>.des",
      context,
    );
  }
  const shardCount = options.shardCount ?? MAX_SHARDS;
  if (!Number.isInteger(shard) || shard < 0 || shard >= shardCount) {
    throw new DesFormatError(`shard ${shard} is outside the ${shardCount} shards of this archive`, {
      ...context,
      shard,
      shardCount,
    });
  }
  if (reader.size !== object.size) {
    throw new DesConflictError("the object changed size after it was listed", {
      ...context,
      listed: object.size,
      read: reader.size,
    });
  }
  if (footer.entryCount === 0 || !descriptor.firstName || !descriptor.lastName) {
    throw new DesFormatError(
      "the container holds no files; an empty container is never catalogued",
      context,
    );
  }
  let dataBytes = 0;
  for (const entry of reader.entries()) dataBytes += entry.size;
  return {
    containerId: descriptor.containerId,
    shard,
    source,
    bucket: options.bucket,
    key: object.key,
    size: object.size,
    etag: object.etag,
    fileCount: footer.entryCount,
    dataBytes,
    firstName: descriptor.firstName,
    lastName: descriptor.lastName,
    indexCrc32c: footer.indexCrc32c,
    footerCrc32c: footer.crc32c,
    createdAt: new Date(descriptor.createdAt),
  };
}

/**
 * Where `row` disagrees with `entry`. Catalog values not recorded yet (null)
 * are not differences; numbers are compared by value.
 */
export function differencesOf(row: CatalogRowView, entry: RebuiltContainer): FieldDifference[] {
  const out: FieldDifference[] = [];
  for (const field of COMPARED) {
    const catalog = row[field];
    if (catalog === null || catalog === undefined) continue;
    const bucket = entry[field];
    const same = typeof bucket === "number" ? Number(catalog) === bucket : catalog === bucket;
    if (!same) out.push({ field, catalog, bucket });
  }
  return out;
}
