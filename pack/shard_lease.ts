/**
 * {@linkcode ShardLease}: a packer's hold on one shard. The lease is renewed
 * in the background while work goes on, and every catalog write about the
 * shard's containers runs through {@linkcode ShardLease.write}: one
 * statement that first locks the shard row and checks that the lease is
 * still ours (`db/fenced_containers.ts`). A packer that lost its lease
 * (paused, cut off) therefore cannot create or advance a container after
 * another worker took the shard over.
 * A lease that expired (renewals delayed by load or a database outage) but
 * that no other worker claimed still names this owner, because every claim
 * writes its owner: the fence then extends it and goes on.
 *
 * @module
 */

import { DesConflictError, DesUnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import type { FencedOutcome, LeaseFence } from "../db/fenced_containers.ts";
import { claimShards, releaseShard, renewLease } from "../db/shards.ts";

const CLAIM_ATTEMPTS = 3;

/** The shard's lease is no longer held by this worker. */
export class LeaseLostError extends DesConflictError {
  /** @param shard the shard @param owner the worker that lost it */
  constructor(shard: number, owner: string) {
    super(`lease on shard ${shard} is no longer held by ${owner}`, { shard, owner });
  }
}

/** A held lease on one shard. */
export class ShardLease {
  readonly #db: Db;
  readonly #leaseMs: number;
  readonly #log: Logger;
  readonly #timer: ReturnType<typeof setInterval>;
  #lost = false;
  #released = false;

  private constructor(
    db: Db,
    readonly shard: number,
    readonly owner: string,
    leaseMs: number,
    log: Logger,
  ) {
    this.#db = db;
    this.#leaseMs = leaseMs;
    this.#log = log;
    this.#timer = setInterval(() => this.#renew(), Math.max(50, Math.floor(leaseMs / 3)));
  }

  /**
   * Claim `shard` if it is free, expired or already ours; `undefined` when
   * another worker holds it. The returned lease renews itself until released.
   */
  static async tryClaim(
    db: Db,
    options: { shard: number; owner: string; leaseMs: number; log: Logger },
  ): Promise<{ lease: ShardLease; takenOverFrom: string | null } | undefined> {
    const claim = () =>
      claimShards(db, {
        owner: options.owner,
        rangeStart: options.shard,
        rangeEnd: options.shard,
        leaseMs: options.leaseMs,
        limit: 1,
      });
    // A claim lost with its connection may or may not have been written; it is
    // safe to send again, because a shard this owner holds is claimed again.
    let claimed;
    for (let attempt = 1;; attempt++) {
      try {
        [claimed] = await claim();
        break;
      } catch (error) {
        if (!(error instanceof DesUnavailableError) || attempt >= CLAIM_ATTEMPTS) throw error;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    if (!claimed) return undefined;
    const lease = new ShardLease(db, options.shard, options.owner, options.leaseMs, options.log);
    return { lease, takenOverFrom: claimed.takenOverFrom };
  }

  /** Whether a renewal found the lease gone. */
  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Run one fenced statement (`db/fenced_containers.ts`) under this lease.
   * Throws {@linkcode LeaseLostError} when it found the lease gone (it then
   * wrote nothing).
   */
  async write<T extends FencedOutcome>(run: (db: Db, fence: LeaseFence) => Promise<T>): Promise<T> {
    const outcome = await run(this.#db, {
      shard: this.shard,
      owner: this.owner,
      leaseMs: this.#leaseMs,
    });
    if (!outcome.held) {
      this.#lost = true;
      throw new LeaseLostError(this.shard, this.owner);
    }
    return outcome;
  }

  /** Stop renewing and give the shard back (a lost lease is left alone). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    if (this.#lost) return;
    await releaseShard(this.#db, { owner: this.owner, shard: this.shard }).catch((error) => {
      this.#log.warn("could not release shard lease; it will expire", {
        shard: this.shard,
        error,
      });
    });
  }

  async #renew(): Promise<void> {
    if (this.#released || this.#lost) return;
    try {
      const held = await renewLease(this.#db, {
        owner: this.owner,
        shard: this.shard,
        leaseMs: this.#leaseMs,
      });
      if (!held && !this.#released) {
        this.#lost = true;
        this.#log.warn("shard lease was taken over", { shard: this.shard });
      }
    } catch (error) {
      this.#log.warn("lease renewal failed; retrying", { shard: this.shard, error });
    }
  }
}
