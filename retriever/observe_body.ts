/**
 * Pass a response body through unchanged, reporting a failure while it
 * streams (a short read or a checksum mismatch after the headers went out).
 *
 * @module
 */

/** A stream with the same chunks as `body` that calls `onError` if `body` fails. */
export function observeBody(
  body: ReadableStream<Uint8Array>,
  onError: (error: unknown) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        onError(error);
        controller.error(error);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
