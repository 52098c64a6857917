/**
 * Per-client token-bucket rate limiting (`DES_GATEWAY_RATE_LIMIT` requests
 * per second, bursts up to the same number). Buckets of idle clients are
 * forgotten, so memory stays bounded by the number of active clients.
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
  tokens: number;
  updatedAt: number;
}

/** A token bucket per client id. Time is passed in, so the logic is testable without waiting. */
export class TokenBucketLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxClients: number;
  readonly #buckets = new Map<string, Bucket>();

  /**
   * @param ratePerSecond tokens added per second (> 0)
   * @param options burst size (default: `ratePerSecond`, at least 1) and how many
   *   client buckets to keep before forgetting idle ones (default 100 000)
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
      if (this.#buckets.size >= this.#maxClients) this.#forgetIdle(now);
      bucket = { tokens: this.#burst, updatedAt: now };
      this.#buckets.set(clientId, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#rate);
    bucket.updatedAt = now;
    return bucket;
  }

  /** Drop buckets that would be full by now (their clients are indistinguishable from new ones). */
  #forgetIdle(now: number): void {
    for (const [id, b] of this.#buckets) {
      if (b.tokens + ((now - b.updatedAt) / 1000) * this.#rate >= this.#burst) {
        this.#buckets.delete(id);
      }
    }
    // Still full of busy clients: drop the oldest entries (Map keeps insertion order).
    for (const id of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxClients) break;
      this.#buckets.delete(id);
    }
  }
}
