/**
 * Which small containers are merged together (`DES_COMPACT_MERGE_BELOW`).
 * A container is small when its data bytes — big files stored beside it
 * included, since a merge copies those too — are below the limit. Per shard
 * and source, in name order (so a merged container covers a narrow name
 * range), consecutive small containers of similar size (the largest at most
 * {@linkcode MERGE_SIZE_RATIO} times the smallest) are grouped while the
 * group stays within the limit, {@linkcode MAX_MERGE_FILES} live files and
 * {@linkcode MAX_MERGE_CONTAINERS} containers; a group of fewer than
 * {@linkcode MERGE_FAN_IN} is not merged.
 *
 * Similar sizes and a fan-in of four make merging size-tiered, as in
 * log-structured stores: a merged container is several times the size of
 * its inputs, so a byte is rewritten a logarithmic number of times on its
 * way to the limit, not once per new small container.
 *
 * @module
 */

import type { ContainerRow } from "../db/containers.ts";

/** Fewest containers one merge takes. */
export const MERGE_FAN_IN = 4;

/** Most containers one merge takes. */
export const MAX_MERGE_CONTAINERS = 64;

/** Most live files of one merged container (the packer's default `--max-container-files`). */
export const MAX_MERGE_FILES = 50_000;

/** Largest over smallest data bytes within one merge. */
export const MERGE_SIZE_RATIO = 4;

/** What grouping looks at. */
export type MergeCandidate = Pick<
  ContainerRow,
  "containerId" | "source" | "dataBytes" | "fileCount" | "deadFiles" | "firstName"
>;

/** Whether `c` is small: a merge candidate under `limit` data bytes. */
export function isSmall(c: MergeCandidate, limit: number): boolean {
  return c.dataBytes !== null && c.dataBytes < limit;
}

/**
 * The merges of `containers` (of one shard) under `limit` bytes; see the
 * module documentation. Containers that are not small are left out.
 */
export function mergeGroups<T extends MergeCandidate>(
  containers: readonly T[],
  limit: number,
): T[][] {
  const bySource = new Map<string, T[]>();
  for (const c of containers) {
    if (isSmall(c, limit)) bySource.set(c.source, [...(bySource.get(c.source) ?? []), c]);
  }
  const groups: T[][] = [];
  for (const list of bySource.values()) {
    list.sort((a, b) => ((a.firstName ?? "") < (b.firstName ?? "") ? -1 : 1));
    let group: T[] = [];
    let bytes = 0;
    let files = 0;
    let least = 0;
    let most = 0;
    const close = () => {
      if (group.length >= MERGE_FAN_IN) groups.push(group);
      group = [];
      bytes = files = 0;
    };
    for (const c of list) {
      const size = Math.max(1, c.dataBytes ?? 0);
      const live = (c.fileCount ?? 0) - c.deadFiles;
      const fits = group.length < MAX_MERGE_CONTAINERS &&
        bytes + size <= limit &&
        files + live <= MAX_MERGE_FILES &&
        Math.max(most, size) <= MERGE_SIZE_RATIO * Math.min(least, size);
      if (!fits) close();
      if (group.length === 0) least = most = size;
      group.push(c);
      bytes += size;
      files += live;
      least = Math.min(least, size);
      most = Math.max(most, size);
    }
    close();
  }
  return groups;
}
