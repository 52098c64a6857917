/**
 * {@linkcode RequestSlots}: a fixed number of places, taken first come
 * first served, with a bounded and abortable wait for a place. The HTTP/1.1
 * pool holds one per origin: a request holds a place while it connects,
 * waits for the answer's head and reads a small body whole, so a burst of
 * requests cannot open more connections at once to one S3 endpoint or
 * retriever than there are places (bodies that stream hold none).
 *
 * @example
 * ```ts
 * const slots = new RequestSlots(2);
 * const release = slots.tryTake() ?? await slots.wait(1000, () => new Error("busy"));
 * try {
 *   // … the request …
 * } finally {
 *   release();
 * }
 * ```
 *
 * @module
 */

import { deadline } from "./deadlines.ts";

/** Gives a place back; calling it again does nothing. */
export type Release = () => void;

/** Places for requests in flight; see the module documentation. */
export class RequestSlots {
  /** The number of places. */
  readonly size: number;
  #free: number;
  readonly #waiters: ((release: Release) => void)[] = [];

  /** @param size the number of places (at least 1) */
  constructor(size: number) {
    this.size = Math.max(1, Math.floor(size));
    this.#free = this.size;
  }

  /** Places taken. */
  get taken(): number {
    return this.size - this.#free;
  }

  /** Requests waiting for a place. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** A place now, or undefined when none is free (or others already wait for one). */
  tryTake(): Release | undefined {
    if (this.#free === 0 || this.#waiters.length > 0) return undefined;
    this.#free--;
    return this.#release();
  }

  /**
   * The first place given back after the requests that wait already got
   * theirs. Rejects with `late()` after `ms`, or with `signal.reason` when
   * it aborts; a request that stops waiting takes no place.
   */
  wait(ms: number, late: () => Error, signal?: AbortSignal): Promise<Release> {
    const now = this.tryTake();
    if (now) return Promise.resolve(now);
    return new Promise<Release>((resolve, reject) => {
      const leave = () => {
        timer.cancel();
        signal?.removeEventListener("abort", onAbort);
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
      };
      const waiter = (release: Release) => {
        leave();
        resolve(release);
      };
      const onAbort = () => {
        leave();
        reject(signal!.reason);
      };
      const timer = deadline(ms, () => {
        leave();
        reject(late());
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** The release of one taken place: to the first waiter, or back to the free ones. */
  #release(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiters[0];
      if (next) next(this.#release());
      else this.#free++;
    };
  }
}
