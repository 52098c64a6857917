/**
 * {@linkcode WatchedNames}: a retriever's in-memory set of names of its
 * shards that are answered before any lookup or cache tier — tombstoned
 * names (410) and damaged files (502). Each set lives in a table of the
 * metadata DB and is announced by NOTIFY ({@linkcode NameSetSource}). The
 * set is loaded at start; an announced name's membership is re-read from the
 * DB, so the order of notifications does not matter and a set may shrink
 * (a repaired file) as well as grow; the whole set is reloaded after every
 * reconnect of the subscription and periodically, as the safety net for
 * notifications lost while the connection was down.
 *
 * Memory: one JavaScript string per name in a `Set` — about 80 bytes per
 * name of 15 characters (measured: see docs/lifecycle.md).
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { inShardRange, type ShardRange } from "../naming/shard_range.ts";

/** Where a set of names lives in the metadata DB. */
export interface NameSetSource {
  /** What the set holds, for messages (`tombstones`, `damaged files`). */
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
  /** Full reload interval in ms (default 60 000; 0 = only after (re)subscribing). */
  refreshMs?: number;
  /** Logger. */
  log?: Logger;
  /** Called after each change with the set's size. */
  onChange?: (size: number) => void;
  /** Called once for every name that joins the set after the start-up load. */
  onAdded?: (name: string) => void;
  /** Called when the subscription is lost (changes are missed until the set is `live` again). */
  onLost?: () => void;
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
  #refreshingFrom = 0;
  #changedDuringRefresh: Map<string, boolean> | undefined;
  #loaded = false;
  // Subscription losses so far, whether the subscription is in place, and the loss count when
  // the last complete reload started subscribed (`live` when it is the current count).
  #losses = 0;
  #subscribed = false;
  #freshAt = -1;

  /**
   * @param db metadata DB
   * @param range the shards followed
   * @param source the set's table, channel and queries
   * @param options reload interval, logger, callbacks
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

  /** Whether the first full load has completed. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Whether the set is known to be current: subscribed, and reloaded since
   * the subscription was last (re)made. False from a lost connection until
   * the reload after the next subscription completes.
   */
  get live(): boolean {
    return this.#subscribed && this.#freshAt === this.#losses;
  }

  /**
   * Add a name this process just made a member (it is answered for at once,
   * before its own notification comes back). Names outside the range are ignored.
   */
  add(name: string, shard: number): void {
    if (!inShardRange(this.#range, shard)) return;
    this.#changedDuringRefresh?.set(name, true);
    this.#set(name, true);
  }

  /** Subscribe, load everything (again after every reconnect), then start the timer. */
  async start(): Promise<void> {
    let first = true;
    this.#unlisten = await this.#db.listen(
      this.#source.channel,
      (payload) => this.#onNotify(payload),
      {
        onLost: () => {
          this.#subscribed = false;
          this.#losses++;
          this.#options.onLost?.();
        },
        onListen: () => {
          this.#subscribed = true;
          if (first) return;
          this.refresh().catch((error) =>
            this.#options.log?.warn(`reload of ${this.#source.what} after reconnect failed`, {
              error,
            })
          );
        },
      },
    );
    first = false;
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

  /**
   * Reload the whole set; returns its size. A reload already running is
   * joined, unless the subscription changed since it began: then a new one
   * follows it.
   */
  refresh(): Promise<number> {
    const from = this.#subscribed ? this.#losses : -1;
    if (this.#refreshing && this.#refreshingFrom === from) return this.#refreshing;
    const before = this.#refreshing?.then(() => {}, () => {});
    const run = before ? before.then(() => this.#reload()) : this.#reload();
    this.#refreshing = run;
    this.#refreshingFrom = from;
    const done = () => {
      if (this.#refreshing === run) this.#refreshing = undefined;
    };
    run.then(done, done);
    return run;
  }

  /** Stop listening and reloading. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
  }

  async #reload(): Promise<number> {
    const from = this.#subscribed ? this.#losses : -1;
    this.#changedDuringRefresh = new Map();
    try {
      let loaded: string[];
      try {
        loaded = await this.#source.load(this.#db, this.#range.start, this.#range.end);
      } catch (cause) {
        throw new DesUnavailableError(
          `could not load the ${this.#source.what} from ${this.#db.location}`,
          { database: this.#db.location },
          cause,
        );
      }
      const names = new Set(loaded);
      // Changes announced (or made here) while the query ran may be missing from its snapshot.
      for (const [name, member] of this.#changedDuringRefresh) {
        if (member) names.add(name);
        else names.delete(name);
      }
      // A name missed while disconnected still has its callback to run.
      if (this.#loaded && this.#options.onAdded) {
        for (const name of names) if (!this.#names.has(name)) this.#options.onAdded(name);
      }
      this.#names = names;
      this.#loaded = true;
      if (from === this.#losses) this.#freshAt = from;
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
        { name, error },
      )
    );
  }

  async #apply(name: string, event: Record<string, unknown>): Promise<void> {
    await this.#source.beforeChange?.(event);
    const member = await this.#source.contains(this.#db, name);
    this.#changedDuringRefresh?.set(name, member);
    this.#set(name, member);
  }

  #set(name: string, member: boolean): void {
    if (member === this.#names.has(name)) return;
    if (member) this.#names.add(name);
    else this.#names.delete(name);
    this.#options.log?.debug(`${this.#source.what} changed`, { name, member });
    if (member) this.#options.onAdded?.(name);
    this.#options.onChange?.(this.#names.size);
  }
}
