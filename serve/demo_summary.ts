/**
 * The demo's "what just happened" summary: what marking and packing did to
 * the sample parent system and what it saved in object count, in plain
 * words, from figures measured in the run.
 *
 * @module
 */

import { join } from "node:path";

/** Figures of one demo run. */
export interface DemoFacts {
  /** Rows in the parent's `documents` table. */
  rows: number;
  /** Rows the marker named (older than 30 days). */
  marked: number;
  /** Files the packer wrote into containers. */
  packedFiles: number;
  /** Content bytes packed. */
  packedBytes: number;
  /** Containers committed. */
  containers: number;
  /** Objects in the archive store (containers plus big-file objects). */
  objects: number;
  /** Parent rows by status after the run. */
  statuses: Record<string, number>;
}

/** Regular files under `root` (the filesystem store's objects), 0 when it does not exist. */
export async function countObjects(root: string): Promise<number> {
  let n = 0;
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isDirectory) n += await countObjects(join(root, entry.name));
      else if (entry.isFile) n++;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return n;
}

/** The summary text (several lines, no trailing newline). */
export function summarize(facts: DemoFacts): string {
  const young = facts.rows - facts.marked;
  const ratio = facts.objects > 0 ? facts.packedFiles / facts.objects : 0;
  const bigObjects = facts.objects - facts.containers;
  const statuses = Object.entries(facts.statuses).map(([s, n]) => `${n} ${s}`).join(", ");
  return [
    "What just happened",
    `  1. Parent system: a catalog table (documents) with ${facts.rows} rows, one file on disk each.`,
    `  2. Mark: ${facts.marked} rows older than 30 days got a DES name and the status marked;`,
    `     the ${young} younger rows stay active and untouched.`,
    `  3. Pack: ${facts.packedFiles} files (${
      (facts.packedBytes / 1e6).toFixed(1)
    } MB) were written ` +
    `into ${facts.containers} containers,`,
    "     each uploaded, verified and committed before the parent rows flipped to packed",
    `     with their container's location (parent rows now: ${statuses}).`,
    `  4. Object count: the archive holds ${facts.objects} objects ` +
    `(${plural(facts.containers, "container")}${
      bigObjects > 0 ? `, ${plural(bigObjects, "big-file object")}` : ""
    })` +
    ` instead of ${facts.packedFiles} files,`,
    `     ${ratio.toFixed(0)}× fewer objects (inodes, S3 requests, metadata entries).`,
    "  5. Serve: any archived name is read back through gateway → retriever with one",
    "     Range GET into its container; the checks above compared the bytes with the originals.",
  ].join("\n");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
