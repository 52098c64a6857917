/**
 * The gateway's routing table: which retriever owns which shard. Built once
 * from a list of owners and checked so that every shard has exactly one;
 * a gap or an overlap refuses to build, naming the shards and owners.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import { formatShardRange, type ShardRange } from "../naming/shard_range.ts";

/** Anything that owns a shard range. */
export interface RangeOwner {
  /** Owner id, unique in the table. */
  readonly id: string;
  /** The shards it owns. */
  readonly range: ShardRange;
}

/** What is wrong with a set of ranges. */
export interface CoverageProblems {
  /** Shard ranges nobody owns. */
  gaps: ShardRange[];
  /** Shard ranges owned by more than one owner, with the owners. */
  overlaps: { range: ShardRange; owners: string[] }[];
  /** Ranges reaching past the last shard. */
  outOfRange: { owner: string; range: ShardRange }[];
  /** Owner ids used more than once. */
  duplicateIds: string[];
}

/** Find gaps, overlaps, out-of-range entries and duplicate ids among `owners`. */
export function coverageProblems(
  owners: readonly RangeOwner[],
  shardCount: number,
): CoverageProblems {
  const ids = owners.map((o) => o.id);
  const duplicateIds = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
  const outOfRange = owners
    .filter((o) => o.range.end >= shardCount || o.range.start < 0 || o.range.end < o.range.start)
    .map((o) => ({ owner: o.id, range: o.range }));
  const gaps: ShardRange[] = [];
  const overlaps: CoverageProblems["overlaps"] = [];
  // Sweep the shards once; consecutive shards with the same owner set form one run.
  let runStart = 0;
  let runOwners = ownersOf(owners, 0);
  const close = (end: number) => {
    const range = { start: runStart, end };
    if (runOwners.length === 0) gaps.push(range);
    else if (runOwners.length > 1) overlaps.push({ range, owners: runOwners });
  };
  for (let shard = 1; shard < shardCount; shard++) {
    const here = ownersOf(owners, shard);
    if (here.join("\0") !== runOwners.join("\0")) {
      close(shard - 1);
      runStart = shard;
      runOwners = here;
    }
  }
  close(shardCount - 1);
  return { gaps, overlaps, outOfRange, duplicateIds };
}

function ownersOf(owners: readonly RangeOwner[], shard: number): string[] {
  return owners.filter((o) => shard >= o.range.start && shard <= o.range.end).map((o) => o.id);
}

/** One sentence per problem, for an operator. */
export function describeProblems(p: CoverageProblems): string[] {
  return [
    ...p.gaps.map((g) => `shards ${formatShardRange(g)} have no retriever (gap)`),
    ...p.overlaps.map((o) =>
      `shards ${formatShardRange(o.range)} are owned by more than one retriever: ${
        o.owners.join(", ")
      } (overlap)`
    ),
    ...p.outOfRange.map((o) =>
      `retriever ${o.owner} has range ${formatShardRange(o.range)} outside the shards`
    ),
    ...p.duplicateIds.map((id) => `retriever id ${id} is used more than once`),
  ];
}

/** An immutable shard → owner table in which every shard has exactly one owner. */
export class RoutingTable<T extends RangeOwner> {
  readonly #byShard: T[];
  /** The owners, in range order. */
  readonly owners: readonly T[];
  /** Number of shards covered (`2^DES_SHARD_BITS`). */
  readonly shardCount: number;

  private constructor(owners: T[], shardCount: number) {
    this.owners = [...owners].sort((a, b) => a.range.start - b.range.start);
    this.shardCount = shardCount;
    this.#byShard = new Array(shardCount);
    for (const o of this.owners) {
      for (let s = o.range.start; s <= o.range.end; s++) this.#byShard[s] = o;
    }
  }

  /**
   * Build the table; throws `DesConfigError` listing every gap, overlap,
   * out-of-range entry and duplicate id when the owners do not cover each
   * of the `shardCount` shards exactly once.
   */
  static build<T extends RangeOwner>(owners: readonly T[], shardCount: number): RoutingTable<T> {
    const problems = describeProblems(coverageProblems(owners, shardCount));
    if (owners.length === 0) problems.unshift("no retrievers configured");
    if (problems.length > 0) {
      throw new DesConfigError(
        `invalid retriever routing table (${shardCount} shards):\n  ${problems.join("\n  ")}`,
        { problems },
      );
    }
    return new RoutingTable([...owners], shardCount);
  }

  /** The owner of `shard`. */
  ownerOf(shard: number): T {
    const owner = this.#byShard[shard];
    if (!owner) {
      throw new DesConfigError(`shard ${shard} is outside the routing table`, { shard });
    }
    return owner;
  }
}
