/**
 * Keeps a retriever's {@linkcode ContainerCatalog} in step with the metadata
 * DB: shard by shard after start (in the background, and at once for a
 * shard a read needs first: {@linkcode CatalogSync.ensureShard}), one
 * container at a time on `NOTIFY des_container_committed` and `NOTIFY
 * des_container_retired`, and a periodic full reload as a safety net for
 * missed notifications (reconnects). New containers become readable without
 * a restart; a container retired by compaction leaves the catalog only
 * after its replacement entered it, so no name is ever missing in between.
 *
 * Start-up does not wait for the catalog: it is ready once it follows the
 * commits, whatever the number of containers; a read of a shard not loaded
 * yet waits for that shard's one query (its containers only), and every
 * later read finds its container without a query.
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { loadCatalogRows } from "../db/catalog_load.ts";
import { type ContainerRow, getContainer } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import type { CatalogContainer, ContainerCatalog } from "./catalog.ts";
import { inShardRange, type ShardRange } from "../naming/shard_range.ts";

/** The NOTIFY channel on which commits are announced. */
export const COMMIT_CHANNEL = "des_container_committed";

/** The NOTIFY channel on which compaction announces retired containers. */
export const RETIRED_CHANNEL = "des_container_retired";

/** Options of {@linkcode CatalogSync}. */
export interface CatalogSyncOptions {
  /** Full reload interval in ms (default 60 000; 0 = never). */
  refreshMs?: number;
  /** Logger. */
  log?: Logger;
  /** Called after each change with the catalog size. */
  onChange?: (size: number) => void;
  /** Called with each container that left the catalog (retired, or gone on a reload). */
  onRemoved?: (container: CatalogContainer) => void;
}

/** Convert a catalog row to the retriever's view. */
export function toCatalogContainer(row: ContainerRow): CatalogContainer {
  return {
    id: row.containerId,
    shard: row.shard,
    bucket: row.bucket,
    key: row.key,
    size: Number(row.size),
    etag: row.etag ?? undefined,
    firstName: row.firstName!,
    lastName: row.lastName!,
    committedAt: row.committedAt?.getTime() ?? 0,
  };
}

/** Loads and follows the catalog of one shard range. */
export class CatalogSync {
  readonly #db: Db;
  readonly #range: ShardRange;
  readonly #catalog: ContainerCatalog;
  readonly #options: CatalogSyncOptions;
  #unlisten?: () => Promise<void>;
  #timer?: ReturnType<typeof setInterval>;
  #refreshing?: Promise<number>;
  /** Notified containers collected by each load in flight (re-applied after it). */
  readonly #collectors = new Set<CatalogContainer[]>();
  /** Retired container ids collected by each load in flight (removed again after it). */
  readonly #retiredCollectors = new Set<Set<string>>();
  /** Shards whose containers are in the catalog. */
  readonly #loaded = new Set<number>();
  /** Loads of single shards in flight. */
  readonly #loading = new Map<number, Promise<void>>();
  #following = false;
  #loadedAt = 0;

  /**
   * @param db metadata DB
   * @param range the shards to follow
   * @param catalog the catalog to fill
   * @param options reload interval, logger, change callback
   */
  constructor(
    db: Db,
    range: ShardRange,
    catalog: ContainerCatalog,
    options: CatalogSyncOptions = {},
  ) {
    this.#db = db;
    this.#range = range;
    this.#catalog = catalog;
    this.#options = options;
  }

  /** Whether commits are followed: reads may be served (each shard loads on first use). */
  get loaded(): boolean {
    return this.#following;
  }

  /** Whether every shard of the range has been loaded at least once. */
  get complete(): boolean {
    return this.#loaded.size === this.#range.end - this.#range.start + 1;
  }

  /** Time of the last completed full reload (epoch ms; 0 = never). */
  get loadedAt(): number {
    return this.#loadedAt;
  }

  /**
   * Subscribe to commits (so that no commit is missed by the loads after it),
   * then load the shards one by one in the background and start the timer.
   */
  async start(): Promise<void> {
    const unlistenCommits = await this.#db.listen(
      COMMIT_CHANNEL,
      (payload) => this.#onNotify(payload, (id) => this.addContainer(id)),
    );
    const unlistenRetired = await this.#db.listen(
      RETIRED_CHANNEL,
      (payload) => this.#onNotify(payload, (id) => this.#retireContainer(id)),
    ).catch(async (error) => {
      await unlistenCommits();
      throw error;
    });
    this.#unlisten = async () => {
      await unlistenCommits().catch(() => {});
      await unlistenRetired();
    };
    this.#following = true;
    this.#loadInBackground();
    const every = this.#options.refreshMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(() => {
        this.refresh().catch((error) =>
          this.#options.log?.warn("catalog reload failed", { error })
        );
      }, every);
    }
  }

  /** Whether `shard`'s containers are in the catalog. */
  shardLoaded(shard: number): boolean {
    return this.#loaded.has(shard);
  }

  /**
   * `undefined` when `shard`'s containers are in the catalog; otherwise the
   * load of that shard (started now unless one is running), which rejects
   * with `DesUnavailableError` when the database does not answer.
   */
  ensureShard(shard: number): Promise<void> | undefined {
    if (this.#loaded.has(shard) || !inShardRange(this.#range, shard)) return undefined;
    let loading = this.#loading.get(shard);
    if (!loading) {
      loading = this.#load(shard, shard).then(() => {}).finally(() => this.#loading.delete(shard));
      this.#loading.set(shard, loading);
    }
    return loading;
  }

  /** Reload one shard's containers now (a read found its container replaced or gone). */
  async reloadShard(shard: number): Promise<void> {
    if (inShardRange(this.#range, shard)) await this.#load(shard, shard);
  }

  /** Reload the whole catalog of the range; returns the number of containers. */
  refresh(): Promise<number> {
    this.#refreshing ??= this.#load(this.#range.start, this.#range.end)
      .then((size) => {
        this.#loadedAt = Date.now();
        return size;
      })
      .finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Stop listening and reloading. */
  async close(): Promise<void> {
    this.#following = false;
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
  }

  /** Load the shards one at a time, skipping those a read loaded first. */
  async #loadInBackground(): Promise<void> {
    for (let shard = this.#range.start; shard <= this.#range.end; shard++) {
      if (!this.#following) return;
      try {
        await this.ensureShard(shard);
      } catch (error) {
        this.#options.log?.warn("catalog shard load failed; reads and the next reload retry", {
          shard,
          error,
        });
      }
    }
  }

  /** Replace shards `start..end` from one query; returns the catalog size. */
  async #load(start: number, end: number): Promise<number> {
    const changed: CatalogContainer[] = [];
    const retired = new Set<string>();
    this.#collectors.add(changed);
    this.#retiredCollectors.add(retired);
    try {
      let rows: CatalogContainer[];
      try {
        rows = await loadCatalogRows(this.#db, start, end);
      } catch (cause) {
        throw new DesUnavailableError(
          `could not load the container catalog from ${this.#db.location}`,
          { database: this.#db.location, shards: `${start}-${end}` },
          cause,
        );
      }
      const shards = Array.from({ length: end - start + 1 }, (_, i) => start + i);
      const before = [...this.#catalog.all()].filter((c) => c.shard >= start && c.shard <= end);
      this.#catalog.replaceShards(shards, rows);
      // Commits announced while the query ran may be missing from its snapshot,
      // and retirements announced meanwhile may not be reflected in it.
      for (const c of changed) {
        if (c.shard >= start && c.shard <= end) this.#catalog.upsert(c);
      }
      for (const id of retired) this.#catalog.remove(id);
      for (const c of before) if (!this.#catalog.get(c.id)) this.#options.onRemoved?.(c);
      for (const shard of shards) this.#loaded.add(shard);
      this.#options.onChange?.(this.#catalog.size);
      return this.#catalog.size;
    } finally {
      this.#collectors.delete(changed);
      this.#retiredCollectors.delete(retired);
    }
  }

  #onNotify(payload: string, apply: (containerId: string) => Promise<void>): void {
    let event: { shard?: unknown; containerId?: unknown };
    try {
      event = JSON.parse(payload);
    } catch {
      this.#options.log?.warn("ignoring a malformed container notification", { payload });
      return;
    }
    if (typeof event.shard !== "number" || typeof event.containerId !== "string") return;
    if (!inShardRange(this.#range, event.shard)) return;
    apply(event.containerId).catch((error) =>
      this.#options.log?.warn("could not apply a container change; the next reload will", {
        containerId: event.containerId,
        error,
      })
    );
  }

  /**
   * A container was retired: its replacement (when there is one) enters the
   * catalog first, then the container leaves it.
   */
  async #retireContainer(containerId: string): Promise<void> {
    const row = await getContainer(this.#db, containerId);
    if (!row || VISIBLE_STATES.includes(row.state)) return;
    if (row.replacedBy) await this.addContainer(row.replacedBy);
    for (const retired of this.#retiredCollectors) retired.add(containerId);
    const existing = this.#catalog.get(containerId);
    if (!existing) return;
    this.#catalog.remove(containerId);
    this.#options.log?.info("container retired", { containerId, replacedBy: row.replacedBy });
    this.#options.onChange?.(this.#catalog.size);
    this.#options.onRemoved?.(existing);
  }

  /**
   * Load one container into the catalog when it is visible and in the range
   * (a commit announced by NOTIFY, or a container another change depends on).
   */
  async addContainer(containerId: string): Promise<void> {
    const row = await getContainer(this.#db, containerId);
    if (!row || !VISIBLE_STATES.includes(row.state) || !inShardRange(this.#range, row.shard)) {
      return;
    }
    const container = toCatalogContainer(row);
    for (const changed of this.#collectors) changed.push(container);
    if (this.#catalog.upsert(container)) {
      this.#options.log?.info("container committed", {
        containerId,
        shard: row.shard,
        key: row.key,
      });
      this.#options.onChange?.(this.#catalog.size);
    }
  }
}
