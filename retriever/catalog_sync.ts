/**
 * Keeps a retriever's {@linkcode ContainerCatalog} in step with the metadata
 * DB: a full load of its shards at start, one container at a time on
 * `NOTIFY des_container_committed`, and a periodic full reload as a safety
 * net for missed notifications (reconnects). New containers become readable
 * without a restart.
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import {
  type CommittedContainer,
  committedContainersForShards,
  type ContainerRow,
  getContainer,
} from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import type { CatalogContainer, ContainerCatalog } from "./catalog.ts";
import { inShardRange, type ShardRange } from "../naming/shard_range.ts";

/** The NOTIFY channel on which commits are announced. */
export const COMMIT_CHANNEL = "des_container_committed";

/** Options of {@linkcode CatalogSync}. */
export interface CatalogSyncOptions {
  /** Full reload interval in ms (default 60 000; 0 = never). */
  refreshMs?: number;
  /** Logger. */
  log?: Logger;
  /** Called after each change with the catalog size. */
  onChange?: (size: number) => void;
}

/** Convert a catalog row to the retriever's view. */
export function toCatalogContainer(row: CommittedContainer | ContainerRow): CatalogContainer {
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
  #changedDuringRefresh: CatalogContainer[] | undefined;
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

  /** Whether a full load has completed. */
  get loaded(): boolean {
    return this.#loadedAt > 0;
  }

  /** Time of the last completed full load (epoch ms; 0 = never). */
  get loadedAt(): number {
    return this.#loadedAt;
  }

  /** Subscribe to commits, then load everything (so no commit falls in between), then start the timer. */
  async start(): Promise<void> {
    this.#unlisten = await this.#db.listen(COMMIT_CHANNEL, (payload) => this.#onNotify(payload));
    await this.refresh();
    const every = this.#options.refreshMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(() => {
        this.refresh().catch((error) =>
          this.#options.log?.warn("catalog reload failed", { error })
        );
      }, every);
    }
  }

  /** Reload the whole catalog of the range; returns the number of containers. */
  refresh(): Promise<number> {
    this.#refreshing ??= this.#reload().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Stop listening and reloading. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
  }

  async #reload(): Promise<number> {
    this.#changedDuringRefresh = [];
    try {
      let rows: CommittedContainer[];
      try {
        rows = await committedContainersForShards(this.#db, this.#range.start, this.#range.end);
      } catch (cause) {
        throw new DesUnavailableError(
          `could not load the container catalog from ${this.#db.location}`,
          { database: this.#db.location },
          cause,
        );
      }
      this.#catalog.replaceAll(rows.map(toCatalogContainer));
      // Commits announced while the query ran may be missing from its snapshot.
      for (const c of this.#changedDuringRefresh) this.#catalog.upsert(c);
      this.#loadedAt = Date.now();
      this.#options.onChange?.(this.#catalog.size);
      return this.#catalog.size;
    } finally {
      this.#changedDuringRefresh = undefined;
    }
  }

  #onNotify(payload: string): void {
    let event: { shard?: unknown; containerId?: unknown };
    try {
      event = JSON.parse(payload);
    } catch {
      this.#options.log?.warn("ignoring a malformed commit notification", { payload });
      return;
    }
    if (typeof event.shard !== "number" || typeof event.containerId !== "string") return;
    if (!inShardRange(this.#range, event.shard)) return;
    this.addContainer(event.containerId).catch((error) =>
      this.#options.log?.warn("could not load a committed container; the next reload will", {
        containerId: event.containerId,
        error,
      })
    );
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
    this.#changedDuringRefresh?.push(container);
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
