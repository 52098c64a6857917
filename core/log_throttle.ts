/**
 * Rate-limited logging of one repeating cause: at most `burst` lines per
 * key in each window; the first line of a later window says how many were
 * left out (`suppressed`). An outage that fails every request then costs a
 * few lines a window instead of one per request, and the count is kept.
 *
 * @module
 */

import type { Logger, LogLevel } from "./log.ts";

/** Options of {@linkcode LogThrottle}. */
export interface LogThrottleOptions {
  /** Lines per key per window (default 5). */
  burst?: number;
  /** Window length in ms (default 10 000). */
  windowMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

const MAX_KEYS = 1024;

/** Throttles lines by a key naming their cause. */
export class LogThrottle {
  readonly #log: Logger;
  readonly #burst: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, { start: number; count: number; suppressed: number }>();

  /** @param log where lines go @param options burst, window, clock */
  constructor(log: Logger, options: LogThrottleOptions = {}) {
    this.#log = log;
    this.#burst = options.burst ?? 5;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Write the line unless `key` has used up its lines in the current window. */
  log(level: LogLevel, key: string, msg: string, fields: Record<string, unknown> = {}): void {
    const now = this.#now();
    let state = this.#keys.get(key);
    if (!state || now - state.start >= this.#windowMs) {
      const suppressed = state?.suppressed ?? 0;
      if (!state && this.#keys.size >= MAX_KEYS) this.#keys.clear();
      state = { start: now, count: 0, suppressed: 0 };
      this.#keys.set(key, state);
      if (suppressed > 0) fields = { ...fields, suppressed };
    }
    if (state.count >= this.#burst) {
      state.suppressed++;
      return;
    }
    state.count++;
    this.#log.log(level, msg, fields);
  }
}
