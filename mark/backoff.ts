/**
 * Exponential backoff with jitter for retried database work, and a sleep
 * that an abort signal cuts short.
 *
 * @module
 */

/** Backoff settings. */
export interface BackoffPolicy {
  /** Delay before the first retry, in ms (default 100). */
  baseMs?: number;
  /** Largest delay, in ms (default 10 000). */
  maxMs?: number;
  /** Source of randomness in [0, 1) (default `Math.random`). */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (1, 2, …): `base · 2^(attempt-1)`,
 * capped at `max`, of which a random half is jitter (so concurrent workers
 * that failed together do not retry together).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = {}): number {
  const base = policy.baseMs ?? 100;
  const max = policy.maxMs ?? 10_000;
  const random = policy.random ?? Math.random;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Wait `ms`, or less when `signal` aborts (resolves either way). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
