/**
 * Where the packer puts things in the archive store:
 * `<source>/<shard hex>/<container id>.des` for containers and
 * `<source>/<shard hex>/_bigFiles/<container id>/<name>` for their big files,
 * so every object the packer writes names its source, shard and container.
 *
 * @module
 */

import { BIG_FILES_FOLDER } from "../format/constants.ts";
import { shardHexWidth } from "../naming/name_codec.ts";

/** Suffix of container objects. */
export const CONTAINER_SUFFIX = ".des";

/** The folder of a shard's objects: `<source>/<shard hex>/`. */
export function shardFolder(source: string, shard: number, shardBits: number): string {
  return `${source}/${shard.toString(16).padStart(shardHexWidth(shardBits), "0")}/`;
}

/** The planned key of a container. */
export function containerKey(
  source: string,
  shard: number,
  shardBits: number,
  containerId: string,
): string {
  return `${shardFolder(source, shard, shardBits)}${containerId}${CONTAINER_SUFFIX}`;
}

/** The prefix handed to the writer for big files: the container's own folder. */
export function bigFilePrefixOf(key: string): string {
  return key.slice(0, key.lastIndexOf("/") + 1);
}

/** The folder holding the big files of the container at `key`. */
export function bigFileFolderOf(key: string, containerId: string): string {
  return `${bigFilePrefixOf(key)}${BIG_FILES_FOLDER}/${containerId}/`;
}

/** The location recorded in the parent: `s3://bucket/key` or `file:///root/key`. */
export function containerLocation(storeUrl: string, key: string): string {
  return `${storeUrl.replace(/\/+$/, "")}/${key}`;
}

/** What a packer-written key says about itself. */
export interface ParsedArchiveKey {
  /** Source name. */
  source: string;
  /** Shard number. */
  shard: number;
  /** Container the object belongs to. */
  containerId: string;
  /** A container object or one of its big files. */
  kind: "container" | "big-file";
}

const KEY_PATTERN = new RegExp(
  `^([a-z0-9][a-z0-9_-]{0,62})/([0-9a-f]{1,4})/(?:([0-9a-f]{32})\\${CONTAINER_SUFFIX}|${BIG_FILES_FOLDER}/([0-9a-f]{32})/[^/]+)$`,
);

/** Parse a key written by the packer; `undefined` for any other key. */
export function parseArchiveKey(key: string): ParsedArchiveKey | undefined {
  const m = KEY_PATTERN.exec(key);
  if (!m) return undefined;
  return {
    source: m[1],
    shard: parseInt(m[2], 16),
    containerId: m[3] ?? m[4],
    kind: m[3] ? "container" : "big-file",
  };
}
