/**
 * {@linkcode ContainerPipeline}: the containers of one shard that are built
 * and are being finished (uploaded, verified, committed, parent rows
 * flipped) in the background while the next one is built. At most `limit`
 * are finished at once: each runs the whole write-ahead pipeline on its own
 * (its own catalog row, states and fence checks), so several of them
 * overlap their waits on the archive and the databases. What each one
 * reports when it is done (counts, the pack job's checkpoint) is recorded
 * in the order the containers were built, so a checkpoint's last name
 * never runs ahead of an earlier container still in flight.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";

/** Finishes one container; resolves to a recording step, run in build order (or nothing). */
export type FinishContainer<T> = (item: T) => Promise<(() => Promise<void>) | undefined>;

/** Finishes containers in the background, at most `limit` at once. */
export class ContainerPipeline<T> {
  readonly #finish: FinishContainer<T>;
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  #recorded: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;

  /** @param finish finishes one container @param limit containers finished at once (≥ 1) */
  constructor(finish: FinishContainer<T>, limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new DesInputError(`containers in flight must be a positive integer, got ${limit}`, {
        limit,
      });
    }
    this.#finish = finish;
    this.#limit = limit;
  }

  /** Wait until fewer than `limit` containers are being finished, then start finishing `item`. */
  async submit(item: T): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
    this.check();
    const fail = (error: unknown) => {
      this.#failure ??= { error };
    };
    const finished = this.#finish(item);
    // A container counts against the limit while its own pipeline runs; its
    // recording then waits for the recording of every container built before it.
    const running: Promise<void> = finished.then(() => {}, fail)
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
    const previous = this.#recorded;
    this.#recorded = finished.then(async (record) => {
      await previous;
      await record?.();
    }).catch(fail);
  }

  /** Throw the first failure of a container finished so far, if any. */
  check(): void {
    if (this.#failure) throw this.#failure.error;
  }

  /** Wait for every container being finished and recorded; throw the first failure. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
    await this.#recorded;
    this.check();
  }
}
