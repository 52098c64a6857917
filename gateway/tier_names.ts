/**
 * What keeps the gateway's byte tier honest: the names it must never answer
 * from memory — tombstoned (410) and damaged (502) — followed from the
 * metadata DB exactly as a retriever follows them ({@linkcode WatchedNames}
 * on `NOTIFY des_tombstone` and `des_file_damaged`, reloaded after every
 * reconnect), for every shard. A name that joins either set is dropped from
 * the tier at once and answered by its retriever from then on.
 *
 * The tier may serve only while both sets are current: from the moment the
 * subscription's connection closes until the reload after the next
 * subscription completes, it is flushed and answers nothing, and
 * {@linkcode TierNames.epoch} moves on so that a fill begun before the loss
 * is discarded. A container retired by compaction (`NOTIFY
 * des_container_retired`) flushes the tier too: its files' copies carry the
 * same bytes and ETag, but a file without an mtime takes the new
 * container's time as its `Last-Modified`. Memory: one string per tombstoned or damaged name of the
 * archive (about 80 bytes each, see docs/lifecycle.md).
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import type { ShardRange } from "../naming/shard_range.ts";
import { RETIRED_CHANNEL } from "../retriever/catalog_sync.ts";
import { damagedNamesSource } from "../retriever/damaged_names.ts";
import { TOMBSTONE_NAMES } from "../retriever/tombstone_names.ts";
import { WatchedNames } from "../retriever/watched_names.ts";

/** What a tier does when names stop being servable. */
export interface TierFollower {
  /** `name` may no longer be served from memory. */
  drop(name: string): void;
  /** Nothing held may be served any more (the sets are not current). */
  flush(): void;
}

/** Whether the tier may serve, and which names it must not. */
export interface TierGuard {
  /** Moves on at every flush (sets not current, container retired): older fills are discarded. */
  readonly epoch: number;
  /** Whether the tier may serve or fill at all now. */
  usable(): boolean;
  /** Whether `name` must be answered by its retriever (tombstoned or damaged). */
  blocked(name: string): boolean;
  /** A name this gateway just deleted (its retriever answered 204): blocked at once. */
  deleted(name: string, shard: number): void;
  /** Register the tier to tell. */
  follow(follower: TierFollower): void;
}

/** Options of {@linkcode TierNames}. */
export interface TierNamesOptions {
  /** Every shard of the archive. */
  range: ShardRange;
  /** Full reload interval in ms (default 60 000). */
  refreshMs?: number;
  /** Logger. */
  log?: Logger;
}

/** The tombstoned and damaged names of the whole archive, as a {@linkcode TierGuard}. */
export class TierNames implements TierGuard {
  readonly #db: Db;
  readonly #sets: WatchedNames[];
  readonly #followers: TierFollower[] = [];
  #unlistenRetired?: () => Promise<void>;
  #epoch = 0;
  #closed = false;

  /** @param db metadata DB @param options shard range, reload interval, logger */
  constructor(db: Db, options: TierNamesOptions) {
    this.#db = db;
    const watch = {
      refreshMs: options.refreshMs,
      log: options.log,
      onAdded: (name: string) => {
        for (const f of this.#followers) f.drop(name);
      },
      onLost: () => this.#lost(),
    };
    // The repaired copy's container is the retriever's business: the tier never held it.
    const damaged = damagedNamesSource(() => Promise.resolve());
    this.#sets = [
      new WatchedNames(db, options.range, TOMBSTONE_NAMES, watch),
      new WatchedNames(db, options.range, damaged, watch),
    ];
  }

  /** The current epoch (see {@linkcode TierGuard.epoch}). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Subscribe to both channels and load both sets; throws when the DB cannot be reached. */
  async start(): Promise<void> {
    // The same connection carries every channel: the sets' `onLost` covers this one too.
    this.#unlistenRetired = await this.#db.listen(RETIRED_CHANNEL, () => this.#lost());
    await Promise.all(this.#sets.map((s) => s.start()));
  }

  /** Whether both sets are loaded and current. */
  usable(): boolean {
    return !this.#closed && this.#sets[0].live && this.#sets[1].live;
  }

  /** Whether `name` is tombstoned or damaged. */
  blocked(name: string): boolean {
    return this.#sets[0].has(name) || this.#sets[1].has(name);
  }

  /** @inheritdoc */
  deleted(name: string, shard: number): void {
    this.#sets[0].add(name, shard);
    for (const f of this.#followers) f.drop(name);
  }

  /** @inheritdoc */
  follow(follower: TierFollower): void {
    this.#followers.push(follower);
  }

  /** Stop following. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#lost();
    await this.#unlistenRetired?.().catch(() => {});
    await Promise.all(this.#sets.map((s) => s.close()));
  }

  #lost(): void {
    this.#epoch++;
    for (const f of this.#followers) f.flush();
  }
}
