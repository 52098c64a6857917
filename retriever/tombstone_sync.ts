/**
 * The tombstoned names of a retriever's shard range, kept in memory so that
 * a read of a deleted name is answered 410 Gone before any cache or store is
 * asked: a full load at start, each new tombstone on `NOTIFY des_tombstone`
 * (within a second of the delete), and a full reload after every
 * (re)subscription and periodically, as the safety net for notifications
 * lost while the connection was down. Tombstones are never removed, so a
 * reload only adds names.
 *
 * Memory: one JavaScript string per name in a `Set` — about 53 bytes per
 * 16-character name, so a million tombstones take about 53 MB (measured:
 * see docs/lifecycle.md).
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { TOMBSTONE_CHANNEL, tombstonedNames } from "../db/tombstones.ts";
import { inShardRange, type ShardRange } from "../naming/shard_range.ts";

/** Options of {@linkcode TombstoneSync}. */
export interface TombstoneSyncOptions {
  /** Full reload interval in ms (default 60 000; 0 = only after (re)subscribing). */
  refreshMs?: number;
  /** Logger. */
  log?: Logger;
  /** Called once for every name that becomes tombstoned here (not for the start-up load). */
  onTombstone?: (name: string) => void;
}

/** Loads and follows the tombstones of one shard range. */
export class TombstoneSync {
  readonly #db: Db;
  readonly #range: ShardRange;
  readonly #options: TombstoneSyncOptions;
  readonly #names = new Set<string>();
  #unlisten?: () => Promise<void>;
  #timer?: ReturnType<typeof setInterval>;
  #loading?: Promise<number>;
  #loaded = false;

  /** @param db metadata DB @param range the shards to follow @param options reload, log, callback */
  constructor(db: Db, range: ShardRange, options: TombstoneSyncOptions = {}) {
    this.#db = db;
    this.#range = range;
    this.#options = options;
  }

  /** Whether `name` is tombstoned. */
  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** Number of tombstoned names held. */
  get size(): number {
    return this.#names.size;
  }

  /** Whether the first full load has completed. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Record a tombstone this process just wrote (it answers 410 at once, before
   * its own notification comes back).
   */
  add(name: string, shard: number): void {
    if (this.#names.has(name) || !inShardRange(this.#range, shard)) return;
    this.#names.add(name);
    this.#options.onTombstone?.(name);
  }

  /** Subscribe, load everything (again after every reconnect), then start the timer. */
  async start(): Promise<void> {
    let first = true;
    this.#unlisten = await this.#db.listen(TOMBSTONE_CHANNEL, (p) => this.#onNotify(p), {
      onListen: () => {
        if (first) return;
        this.refresh().catch((error) =>
          this.#options.log?.warn("tombstone reload after reconnect failed", { error })
        );
      },
    });
    first = false;
    await this.refresh();
    const every = this.#options.refreshMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(() => {
        this.refresh().catch((error) =>
          this.#options.log?.warn("tombstone reload failed", { error })
        );
      }, every);
    }
  }

  /** Load every tombstoned name of the range; returns how many are held. */
  refresh(): Promise<number> {
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /** Stop listening and reloading. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    this.#unlisten = undefined;
  }

  async #load(): Promise<number> {
    let names: string[];
    try {
      names = await tombstonedNames(this.#db, this.#range.start, this.#range.end);
    } catch (cause) {
      throw new DesUnavailableError(
        `could not load the tombstones from ${this.#db.location}`,
        { database: this.#db.location },
        cause,
      );
    }
    const initial = !this.#loaded;
    for (const name of names) {
      if (this.#names.has(name)) continue;
      this.#names.add(name);
      // A name missed while disconnected still has cached bytes to drop.
      if (!initial) this.#options.onTombstone?.(name);
    }
    this.#loaded = true;
    return this.#names.size;
  }

  #onNotify(payload: string): void {
    let event: { shard?: unknown; name?: unknown };
    try {
      event = JSON.parse(payload);
    } catch {
      this.#options.log?.warn("ignoring a malformed tombstone notification", { payload });
      return;
    }
    if (typeof event.shard !== "number" || typeof event.name !== "string") return;
    this.add(event.name, event.shard);
  }
}
