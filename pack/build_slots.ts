/**
 * {@linkcode BuildSlots}: how many shards of a packing run are being built
 * at once (originals fetched and containers written: the memory-bound
 * part). A shard gives its slot back as soon as its last container is
 * handed to the finishing pipeline, so the next shard is built while the
 * previous one's containers are still uploaded, verified, committed and
 * flipped in the parent (the part that waits on the archive and the
 * databases).
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";

/** A counting semaphore of build slots. */
export class BuildSlots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  /** @param size slots (≥ 1) */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new DesInputError(`build slots must be a positive integer, got ${size}`, { size });
    }
    this.#free = size;
  }

  /** Wait for a free slot; resolves to its release function (calling it again does nothing). */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
