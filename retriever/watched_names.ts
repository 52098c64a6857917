/**
 * {@linkcode WatchedNames}: a retriever's in-memory set of names of its
 * shards that must be answered specially before any lookup or cache tier —
 * damaged files (5xx), and any other per-name state kept in the metadata DB
 * and announced by NOTIFY (tombstones fit the same shape). The set is loaded
 * at start, follows NOTIFY (each announced name's membership is re-read
 * from the DB, so the order of notifications does not matter), and is
 * reloaded periodically as a safety net for missed notifications.
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { inShardRange, type ShardRange } from "../naming/shard_range.ts";

/** Where a set of names lives in the metadata DB. */
export interface NameSetSource {
  /** What the set holds, for log lines (`damaged files`). */
  what: string;
  /** NOTIFY channel announcing changes; its payload is JSON with `shard` and `name`. */
  channel: string;
  /** Every member of shards `start`–`end`. */
  load(db: Db, start: number, end: number): Promise<string[]>;
  /** Whether `name` is a member now. */
  contains(db: Db, name: string): Promise<boolean>;
  /** Awaited before an announced change is applied, with the parsed payload. */
  beforeChange?(event: Record<string, unknown>): Promise<void>;
}

/** Options of {@linkcode WatchedNames}. */
export interface WatchedNamesOptions {
  /** Full reload interval in ms (default 60 000; 0 = never). */
  refreshMs?: number;
  /** Logger. */
  log?: Logger;
  /** Called after each change with the set's size. */
  onChange?: (size: number) => void;
}

/** A followed set of names of one shard range. */
export class WatchedNames {
  readonly #db: Db;
  readonly #range: ShardRange;
  readonly #source: NameSetSource;
  readonly #options: WatchedNamesOptions;
  #names = new Set<string>();
  #unlisten?: () => Promise<void>;
  #timer?: ReturnType<typeof setInterval>;
  #refreshing?: Promise<number>;
  #changedDuringRefresh: Map<string, boolean> | undefined;

  /**
   * @param db metadata DB
   * @param range the shards followed
   * @param source the set's table, channel and queries
   * @param options reload interval, logger, change callback
   */
  constructor(db: Db, range: ShardRange, source: NameSetSource, options: WatchedNamesOptions = {}) {
    this.#db = db;
    this.#range = range;
    this.#source = source;
    this.#options = options;
  }

  /** Whether `name` is in the set (no I/O). */
  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** Number of names. */
  get size(): number {
    return this.#names.size;
  }

  /** Subscribe, then load (so no change falls in between), then start the timer. */
  async start(): Promise<void> {
    this.#unlisten = await this.#db.listen(
      this.#source.channel,
      (payload) => this.#onNotify(payload),
    );
    await this.refresh();
    const every = this.#options.refreshMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(() => {
        this.refresh().catch((error) =>
          this.#options.log?.warn(`reload of ${this.#source.what} failed`, { error })
        );
      }, every);
    }
  }

  /** Reload the whole set; returns its size. */
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
    this.#changedDuringRefresh = new Map();
    try {
      const names = new Set(await this.#source.load(this.#db, this.#range.start, this.#range.end));
      // Changes announced while the query ran may be missing from its snapshot.
      for (const [name, member] of this.#changedDuringRefresh) {
        if (member) names.add(name);
        else names.delete(name);
      }
      this.#names = names;
      this.#options.onChange?.(names.size);
      return names.size;
    } finally {
      this.#changedDuringRefresh = undefined;
    }
  }

  #onNotify(payload: string): void {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(payload);
    } catch {
      this.#options.log?.warn(`ignoring a malformed ${this.#source.channel} notification`, {
        payload,
      });
      return;
    }
    const { shard, name } = event;
    if (typeof shard !== "number" || typeof name !== "string") return;
    if (!inShardRange(this.#range, shard)) return;
    this.#apply(name, event).catch((error) =>
      this.#options.log?.warn(
        `could not follow a change of ${this.#source.what}; the next reload will`,
        {
          name,
          error,
        },
      )
    );
  }

  async #apply(name: string, event: Record<string, unknown>): Promise<void> {
    await this.#source.beforeChange?.(event);
    const member = await this.#source.contains(this.#db, name);
    this.#changedDuringRefresh?.set(name, member);
    if (member === this.#names.has(name)) return;
    if (member) this.#names.add(name);
    else this.#names.delete(name);
    this.#options.log?.info(`${this.#source.what} changed`, { name, member });
    this.#options.onChange?.(this.#names.size);
  }
}
