/**
 * What DES will write into a parent's columns, as sizes the start-up check
 * compares with the column types: the longest DES name (from
 * `DES_NAME_PREFIX` and `DES_SHARD_BITS`), the largest shard number, and the
 * longest container location the packer records
 * (`<archive url>/<source>/<shard hex>/<32 hex>.des`).
 *
 * @module
 */

import { pathToFileURL } from "node:url";
import { join, resolve } from "node:path";
import type { DesConfig } from "../core/config.ts";
import { nameLength, shardHexWidth } from "../naming/name_codec.ts";

/** Hex digits of a container id. */
const CONTAINER_ID_LENGTH = 32;
/** The suffix of container keys. */
const CONTAINER_SUFFIX = ".des";

/** The sizes DES needs from a parent's columns. */
export interface ContractNeeds {
  /** `DES_SHARD_BITS`. */
  shardBits: number;
  /** `DES_NAME_PREFIX`. */
  namePrefix: string;
  /** URL of the archive store as recorded in container locations (`s3://bucket`, `file:///…`). */
  archiveUrl: string;
}

/** Length of every DES name under `needs`. */
export function neededNameLength(needs: ContractNeeds): number {
  return nameLength({ shardBits: needs.shardBits, prefix: needs.namePrefix });
}

/** The largest shard number: `2^DES_SHARD_BITS - 1`. */
export function neededMaxShard(needs: ContractNeeds): number {
  return 2 ** needs.shardBits - 1;
}

/** Length of the container locations the packer writes for `source` (all have the same length). */
export function neededContainerLength(needs: ContractNeeds, source: string): number {
  const url = needs.archiveUrl.replace(/\/+$/, "");
  return url.length + 1 + source.length + 1 + shardHexWidth(needs.shardBits) + 1 +
    CONTAINER_ID_LENGTH + CONTAINER_SUFFIX.length;
}

/**
 * The archive URL the configuration leads to: `s3://<DES_ARCHIVE_BUCKET>`
 * with an S3 endpoint, otherwise the `file://` URL of
 * `<DES_STORE_ROOT>/<DES_ARCHIVE_BUCKET>` (as the filesystem store names it).
 */
export function archiveUrlOf(
  config: Pick<DesConfig, "s3Endpoint" | "archiveBucket" | "storeRoot">,
): string {
  if (config.s3Endpoint) return `s3://${config.archiveBucket}`;
  return pathToFileURL(resolve(join(config.storeRoot, config.archiveBucket))).href;
}

/** The needs of a configuration, for entry points that have no store at hand. */
export function contractNeedsOf(
  config: Pick<
    DesConfig,
    "shardBits" | "namePrefix" | "s3Endpoint" | "archiveBucket" | "storeRoot"
  >,
): ContractNeeds {
  return {
    shardBits: config.shardBits,
    namePrefix: config.namePrefix,
    archiveUrl: archiveUrlOf(config),
  };
}
