/**
 * Coarse deadlines for the many short-lived timeouts of the read path: one
 * interval timer per process, ticking every {@linkcode DEADLINE_TICK_MS}
 * while any deadline is pending, instead of a timer armed and cleared per
 * request. On Deno 2.9 the global `setTimeout` is Node's (a `Timeout`
 * object per call), and arming and clearing one costs about 10 µs of CPU on
 * the 2-core reference machine — several per read. A deadline fires between
 * `ms` and `ms + DEADLINE_TICK_MS` after it was set; once none is pending
 * the interval is cleared, so an idle process (or a finished test) holds no
 * timer.
 *
 * @module
 */

/** Resolution of a deadline, milliseconds. */
export const DEADLINE_TICK_MS = 50;

/** A pending deadline. */
export interface Deadline {
  /** Forget it (no effect once it fired). */
  cancel(): void;
}

interface Entry extends Deadline {
  at: number;
  fire: () => void;
}

const pending = new Set<Entry>();
let ticker: ReturnType<typeof setInterval> | undefined;

function stopWhenIdle(): void {
  if (pending.size === 0 && ticker !== undefined) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

function tick(): void {
  const now = performance.now();
  for (const entry of pending) {
    if (entry.at > now) continue;
    pending.delete(entry);
    try {
      entry.fire();
    } catch (error) {
      // A deadline's callback must not stop the others; report it like an uncaught timer error.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
  stopWhenIdle();
}

/**
 * Call `fire` once, `ms` (rounded up to the tick) from now, unless
 * cancelled first.
 *
 * @example
 * ```ts
 * import { deadline } from "./deadlines.ts";
 * const d = deadline(1000, () => console.log("too late"));
 * d.cancel();
 * ```
 */
export function deadline(ms: number, fire: () => void): Deadline {
  const entry: Entry = {
    at: performance.now() + ms,
    fire,
    cancel() {
      if (pending.delete(entry)) stopWhenIdle();
    },
  };
  pending.add(entry);
  ticker ??= setInterval(tick, DEADLINE_TICK_MS);
  return entry;
}
