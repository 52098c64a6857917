/**
 * Stream utilities of the writer and reader: read a stream into a buffer of a
 * known length, and a pass-through that counts and hashes bytes and fails a
 * stream whose length or checksum is wrong.
 *
 * @module
 */

import { Crc32c, Sha256 } from "./checksum.ts";

/** Digests of the bytes that passed through a {@linkcode checkedStream}. */
export interface Digests {
  /** Number of bytes seen. */
  length: number;
  /** CRC-32C, when requested. */
  crc32c?: number;
  /** SHA-256, when requested. */
  sha256?: Uint8Array;
}

/** Options of {@linkcode checkedStream}. */
export interface CheckOptions {
  /** Compute CRC-32C. */
  crc32c?: boolean;
  /** Compute SHA-256. */
  sha256?: boolean;
  /** The error for a stream whose length differs (`actual` is a lower bound when too long). */
  lengthError(actual: number): Error;
  /** Called once all bytes passed with the right length; an error returned fails the stream. */
  onEnd?(digests: Digests): Error | undefined;
}

/** A transform plus the digests it computed and the error it raised, if any. */
export interface CheckedStream {
  /** Pipe through this. */
  transform: TransformStream<Uint8Array, Uint8Array>;
  /** Digests; complete once the stream has ended. */
  digests(): Digests;
  /** The error this transform raised, if it raised one. */
  error(): Error | undefined;
}

/** A pass-through that expects exactly `length` bytes and hashes them as asked. */
export function checkedStream(length: number, options: CheckOptions): CheckedStream {
  const crc = options.crc32c ? new Crc32c() : undefined;
  const sha = options.sha256 ? new Sha256() : undefined;
  let seen = 0;
  let raised: Error | undefined;
  let digests: Digests = { length: 0 };
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > length) {
        raised = options.lengthError(seen);
        controller.error(raised);
        return;
      }
      crc?.update(chunk);
      sha?.update(chunk);
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (seen !== length) {
        raised = options.lengthError(seen);
        controller.error(raised);
        return;
      }
      digests = { length: seen, crc32c: crc?.digest(), sha256: sha?.digest() };
      raised = options.onEnd?.(digests);
      if (raised) controller.error(raised);
    },
  });
  return { transform, digests: () => digests, error: () => raised };
}

/**
 * Read exactly `length` bytes from `stream` into one buffer (allocated once);
 * `lengthError(actual)` is thrown when the stream is longer or shorter.
 */
export async function readExactly(
  stream: ReadableStream<Uint8Array>,
  length: number,
  lengthError: (actual: number) => Error,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.byteLength > length) {
        const error = lengthError(at + value.byteLength);
        await reader.cancel(error).catch(() => {});
        throw error;
      }
      out.set(value, at);
      at += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  if (at !== length) throw lengthError(at);
  return out;
}
