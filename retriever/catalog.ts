/**
 * The retriever's in-memory catalog of committed containers, per shard,
 * sorted by name range. Finding the containers that may hold a name is a
 * binary search plus a short backward scan — no database query on the read
 * path. Containers of one shard usually cover disjoint, increasing name
 * ranges (names grow with time); overlapping ranges are handled too.
 *
 * @module
 */

import type { CatalogRow } from "../db/catalog_load.ts";

/** One committed container, as the retriever needs it (loaded by `db/catalog_load.ts`). */
export type CatalogContainer = CatalogRow;

interface ShardList {
  /** Sorted by `firstName`, then `committedAt`. */
  containers: CatalogContainer[];
  /** `maxLast[i]` = largest `lastName` among `containers[0..i]`. */
  maxLast: string[];
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function buildShard(containers: CatalogContainer[]): ShardList {
  const sorted = [...containers].sort((a, b) =>
    compareNames(a.firstName, b.firstName) || a.committedAt - b.committedAt
  );
  const maxLast: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const last = sorted[i].lastName;
    maxLast.push(i > 0 && maxLast[i - 1] > last ? maxLast[i - 1] : last);
  }
  return { containers: sorted, maxLast };
}

/** An immutable-per-shard catalog; updates replace a shard's list atomically. */
export class ContainerCatalog {
  readonly #shards = new Map<number, ShardList>();
  readonly #byId = new Map<string, CatalogContainer>();

  /** Replace the whole catalog with `containers`. */
  replaceAll(containers: readonly CatalogContainer[]): void {
    this.#shards.clear();
    this.#byId.clear();
    this.replaceShards([], containers);
  }

  /**
   * Replace the containers of `shards` and of every shard in `containers`
   * with `containers`; other shards keep theirs.
   */
  replaceShards(shards: Iterable<number>, containers: readonly CatalogContainer[]): void {
    const groups = new Map<number, CatalogContainer[]>();
    for (const shard of shards) groups.set(shard, []);
    for (const c of containers) {
      const list = groups.get(c.shard) ?? [];
      list.push(c);
      groups.set(c.shard, list);
    }
    for (const [shard, list] of groups) {
      for (const old of this.#shards.get(shard)?.containers ?? []) this.#byId.delete(old.id);
      if (list.length === 0) {
        this.#shards.delete(shard);
        continue;
      }
      this.#shards.set(shard, buildShard(list));
      for (const c of list) this.#byId.set(c.id, c);
    }
  }

  /** Add or replace one container (by id). Returns whether anything changed. */
  upsert(container: CatalogContainer): boolean {
    const existing = this.#byId.get(container.id);
    if (existing && sameContainer(existing, container)) return false;
    if (existing && existing.shard !== container.shard) this.#removeFromShard(existing);
    const list = (this.#shards.get(container.shard)?.containers ?? [])
      .filter((c) => c.id !== container.id);
    list.push(container);
    this.#shards.set(container.shard, buildShard(list));
    this.#byId.set(container.id, container);
    return true;
  }

  /** Remove a container by id. */
  remove(id: string): void {
    const existing = this.#byId.get(id);
    if (!existing) return;
    this.#removeFromShard(existing);
    this.#byId.delete(id);
  }

  /** Containers of `shard` whose [firstName, lastName] contains `name`, latest commit first. */
  candidates(shard: number, name: string): CatalogContainer[] {
    const list = this.#shards.get(shard);
    if (!list) return [];
    const { containers, maxLast } = list;
    // Last position whose firstName <= name.
    let low = 0;
    let high = containers.length - 1;
    let at = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (containers[mid].firstName <= name) {
        at = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    const out: CatalogContainer[] = [];
    for (let i = at; i >= 0 && maxLast[i] >= name; i--) {
      if (containers[i].lastName >= name) out.push(containers[i]);
    }
    return out.sort((a, b) => b.committedAt - a.committedAt);
  }

  /** The container with this id. */
  get(id: string): CatalogContainer | undefined {
    return this.#byId.get(id);
  }

  /** Number of containers. */
  get size(): number {
    return this.#byId.size;
  }

  /** All containers (any order). */
  all(): IterableIterator<CatalogContainer> {
    return this.#byId.values();
  }

  #removeFromShard(container: CatalogContainer): void {
    const list = this.#shards.get(container.shard);
    if (!list) return;
    const rest = list.containers.filter((c) => c.id !== container.id);
    if (rest.length === 0) this.#shards.delete(container.shard);
    else this.#shards.set(container.shard, buildShard(rest));
  }
}

function sameContainer(a: CatalogContainer, b: CatalogContainer): boolean {
  return a.bucket === b.bucket && a.key === b.key && a.size === b.size && a.etag === b.etag &&
    a.shard === b.shard &&
    a.firstName === b.firstName && a.lastName === b.lastName && a.committedAt === b.committedAt;
}
