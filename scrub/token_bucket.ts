/**
 * {@linkcode TokenBucket}: bounds the byte rate of the scrubber's reads.
 * Tokens (bytes) accrue at `rate` per second up to `burst`; a read takes its
 * length before it is made and, when that leaves the bucket in debt, waits
 * until the debt is paid. The bucket starts empty, so over any run the bytes
 * read never exceed `rate × seconds + burst`.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import { sleep } from "../mark/backoff.ts";

/** A byte-rate limiter. */
export class TokenBucket {
  /** Bytes per second. */
  readonly rate: number;
  /** Most bytes saved up while idle. */
  readonly burst: number;
  readonly #now: () => number;
  readonly #wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  #tokens = 0;
  #last: number;

  /**
   * @param rate bytes per second (> 0)
   * @param burst most bytes saved up while idle (default: one second's worth)
   * @param clock time in ms and the wait (default `performance.now` and a real sleep)
   */
  constructor(
    rate: number,
    burst: number = rate,
    clock: { now?: () => number; wait?: (ms: number, signal?: AbortSignal) => Promise<void> } = {},
  ) {
    if (!(rate > 0) || !Number.isFinite(rate) || !(burst >= 0)) {
      throw new DesInputError("a token bucket needs a positive rate", { rate, burst });
    }
    this.rate = rate;
    this.burst = burst;
    this.#now = clock.now ?? (() => performance.now());
    this.#wait = clock.wait ?? sleep;
    this.#last = this.#now();
  }

  /** Take `bytes`, waiting (at most until `signal` aborts) while the bucket is in debt. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    this.#tokens -= bytes;
    if (this.#tokens < 0) await this.#wait((-this.#tokens / this.rate) * 1000, signal);
  }
}
