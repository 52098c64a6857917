/**
 * Reading a whole stream that can be stopped: when the signal aborts, the
 * stream is cancelled (which closes a file or an HTTP body) and the read
 * rejects with the signal's reason at once, whatever the source does.
 *
 * @module
 */

/** Read `body` to its end, or reject with `signal.reason` as soon as `signal` aborts. */
export async function readAllWithin(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  signal?.throwIfAborted();
  const reader = body.getReader();
  const stopped = Promise.withResolvers<never>();
  const onAbort = () => {
    stopped.reject(signal!.reason);
    reader.cancel(signal!.reason).catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  stopped.promise.catch(() => {});
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stopped.promise]);
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  signal?.throwIfAborted();
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
