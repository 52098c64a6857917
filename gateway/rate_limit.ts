/**
 * Per-client token-bucket rate limiting (`DES_GATEWAY_RATE_LIMIT` requests
 * per second, bursts up to the same number). The buckets form an LRU: every
 * use moves a client to the back, and a new client beyond the bound evicts
 * the least recently seen one, in constant time. An evicted client only
 * gets a full bucket back, the state an idle client would have anyway.
 *
 * @module
 */

import { DesError } from "../core/errors.ts";

/** Too many requests from one client (HTTP 429). */
export class DesRateLimitedError extends DesError {
  /** Whole seconds after which a retry will be accepted. */
  readonly retryAfterSeconds: number;
  /** @param clientId who is limited @param retryAfterSeconds when to come back */
  constructor(clientId: string, retryAfterSeconds: number) {
    super(`rate limit exceeded for client ${clientId}`, {
      code: "rate-limited",
      status: 429,
      context: { client: clientId, retryAfterSeconds },
    });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

interface Bucket {
  id: string;
  tokens: number;
  updatedAt: number;
  /** Less recently seen neighbour. */
  older?: Bucket;
  /** More recently seen neighbour. */
  newer?: Bucket;
}

/** A token bucket per client id. Time is passed in, so the logic is testable without waiting. */
export class TokenBucketLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxClients: number;
  readonly #buckets = new Map<string, Bucket>();
  /** Least recently seen bucket (evicted first). */
  #oldest?: Bucket;
  /** Most recently seen bucket. */
  #newest?: Bucket;

  /**
   * @param ratePerSecond tokens added per second (> 0)
   * @param options burst size (default: `ratePerSecond`, at least 1) and how many
   *   client buckets to keep before evicting the least recently seen (default 100 000)
   */
  constructor(ratePerSecond: number, options: { burst?: number; maxClients?: number } = {}) {
    if (!(ratePerSecond > 0)) throw new RangeError("ratePerSecond must be > 0");
    this.#rate = ratePerSecond;
    this.#burst = Math.max(1, options.burst ?? ratePerSecond);
    this.#maxClients = options.maxClients ?? 100_000;
  }

  /**
   * Take one token for `clientId` at time `nowMs`; throws
   * {@linkcode DesRateLimitedError} with a `Retry-After` when the bucket is empty.
   */
  take(clientId: string, nowMs: number): void {
    const bucket = this.#refill(clientId, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate));
    throw new DesRateLimitedError(clientId, seconds);
  }

  /** Number of clients currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(clientId: string, now: number): Bucket {
    let bucket = this.#buckets.get(clientId);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxClients && this.#oldest) {
        this.#buckets.delete(this.#oldest.id);
        this.#unlink(this.#oldest);
      }
      bucket = { id: clientId, tokens: this.#burst, updatedAt: now };
      this.#buckets.set(clientId, bucket);
      this.#append(bucket);
      return bucket;
    }
    this.#unlink(bucket);
    this.#append(bucket);
    const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#rate);
    bucket.updatedAt = now;
    return bucket;
  }

  // A doubly linked list in recency order: moving and evicting are O(1). (Deleting a Map's
  // first keys over and over is not: its iterator walks the deleted slots.)
  #unlink(b: Bucket): void {
    if (b.older) b.older.newer = b.newer;
    else this.#oldest = b.newer;
    if (b.newer) b.newer.older = b.older;
    else this.#newest = b.older;
    b.older = b.newer = undefined;
  }

  #append(b: Bucket): void {
    b.older = this.#newest;
    if (this.#newest) this.#newest.newer = b;
    this.#newest = b;
    this.#oldest ??= b;
  }
}
