/**
 * Bounded concurrency for the packer: fetch items ahead of a consumer that
 * must see them in order, and run a task over a list with at most `limit`
 * tasks in flight.
 *
 * @module
 */

/** One fetched item: the value, or the error its fetch failed with. */
export type Fetched<T, R> =
  | { item: T; ok: true; value: R }
  | { item: T; ok: false; error: unknown };

/**
 * Pull items from `source` and start `fetch` on up to `concurrency` of them
 * at once, yielding results in source order. A failed fetch is yielded as
 * `{ ok: false }` so the consumer decides what it means. Stopping the
 * iteration early leaves in-flight fetches to settle unobserved.
 */
export async function* fetchAhead<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  fetch: (item: T) => Promise<R>,
  concurrency: number,
): AsyncGenerator<Fetched<T, R>> {
  const limit = Math.max(1, Math.floor(concurrency));
  const iterator = Symbol.asyncIterator in source
    ? source[Symbol.asyncIterator]()
    : toAsync(source[Symbol.iterator]());
  const queue: Promise<Fetched<T, R>>[] = [];
  let exhausted = false;
  const fill = async () => {
    while (!exhausted && queue.length < limit) {
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        return;
      }
      const item = next.value;
      queue.push(
        Promise.try(() => fetch(item)).then(
          (value): Fetched<T, R> => ({ item, ok: true, value }),
          (error): Fetched<T, R> => ({ item, ok: false, error }),
        ),
      );
    }
  };
  try {
    await fill();
    while (queue.length > 0) {
      const head = await queue.shift()!;
      await fill();
      yield head;
    }
  } finally {
    if (!exhausted) await iterator.return?.();
  }
}

/** Run `task` on every item with at most `limit` running at once; rejects with the first error. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker);
  await Promise.all(workers);
}

function toAsync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return {
    next: () => Promise.resolve(iterator.next()),
    return: () => Promise.resolve(iterator.return?.() ?? { done: true, value: undefined }),
  };
}
