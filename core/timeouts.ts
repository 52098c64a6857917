/**
 * Bounds on waiting: a promise that must settle within a time
 * ({@linkcode withTimeout}) and a body stream whose source must deliver a
 * chunk within a time of being asked ({@linkcode idleTimeout}). Every
 * outbound call of the read path goes through one of them, so a peer that
 * accepts a connection and then says nothing costs a bounded wait, never a
 * hung request.
 *
 * The clocks are the coarse deadlines of `deadlines.ts` (one interval
 * timer per process, not one timer per call).
 *
 * @module
 */

import { type Deadline, deadline } from "./deadlines.ts";

/**
 * `work`, or a rejection with `onTimeout()` when it has not settled within
 * `ms`. `work` itself is not cancelled (pass an `AbortSignal` to it for
 * that); its late rejection is swallowed, so it never becomes unhandled.
 *
 * @example
 * ```ts
 * import { withTimeout } from "./timeouts.ts";
 * const value = await withTimeout(Promise.resolve(1), 1000, () => new Error("too slow"));
 * if (value !== 1) throw new Error("unexpected");
 * ```
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: Deadline | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = deadline(ms, () => reject(onTimeout()));
  });
  work.catch(() => {});
  return Promise.race([work, expired]).finally(() => timer?.cancel());
}

/**
 * A stream with the chunks of `body` that fails with `onIdle()` when `body`
 * takes longer than `ms` to deliver a chunk it was asked for. The clock runs
 * only while a chunk is awaited, so a slow consumer never trips it. On
 * expiry or a failure of `body`, `body` is cancelled and `onExpire` (e.g.
 * an abort of the request that produced it) is called.
 */
export function idleTimeout(
  body: ReadableStream<Uint8Array>,
  ms: number,
  onIdle: () => Error,
  onExpire?: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: Deadline | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = deadline(ms, () => reject(onIdle()));
      });
      const read = reader.read();
      read.catch(() => {});
      try {
        const { done, value } = await Promise.race([read, expired]);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        reader.cancel(error).catch(() => {});
        onExpire?.();
        controller.error(error);
      } finally {
        timer?.cancel();
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * The whole body of `response` as bytes, or a rejection with `onIdle()`
 * when it has not arrived within `ms`; then `onExpire` (e.g. an abort of
 * the request that produced it) is called, which also releases the body.
 * For bodies known to be small (see {@linkcode declaredLength}): one read
 * instead of a stream pumped chunk by chunk.
 */
export async function bodyWithin(
  response: Response,
  ms: number,
  onIdle: () => Error,
  onExpire?: () => void,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await withTimeout(response.bytes(), ms, onIdle);
  } catch (error) {
    onExpire?.();
    throw error;
  }
}

/** The `Content-Length` of `response` when it declares a valid one, else `undefined`. */
export function declaredLength(response: Response): number | undefined {
  const raw = response.headers.get("content-length");
  if (raw === null || !/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}
