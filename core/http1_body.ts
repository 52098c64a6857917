/**
 * Bodies of the HTTP/1.1 client's answers: the length a `Content-Length`
 * declares, and reads of a body framed by its length or by chunked transfer
 * coding (extensions and trailer fields skipped, sizes checked).
 *
 * @module
 */

import type { Http1Connection } from "./http1_connection.ts";

/**
 * The length a `Content-Length` value declares, given the one declared by an
 * earlier field (`previous`): repeats of one number are that number, any
 * other value is an error.
 */
export function contentLength(value: string, previous: number | undefined): number {
  let length = previous;
  for (const part of value.split(",")) {
    const digits = part.trim();
    if (!/^\d{1,15}$/.test(digits)) throw new Error(`bad Content-Length: ${value.slice(0, 40)}`);
    if (length !== undefined && Number(digits) !== length) {
      throw new Error(`conflicting Content-Length: ${length} and ${digits}`);
    }
    length = Number(digits);
  }
  return length!;
}

/** Exactly `length` bytes (a body framed by its `Content-Length`). */
export async function readExactly(
  c: Http1Connection,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  while (c.end - c.start < length) {
    if (!(await c.fill())) throw new Error("connection closed inside a body");
  }
  return c.cut(length);
}

/** Reads of a body of `length` bytes; null after the last. */
export function lengthReader(
  c: Http1Connection,
  length: number,
): (max: number) => Promise<Uint8Array<ArrayBuffer> | null> {
  let left = length;
  return async (max: number): Promise<Uint8Array<ArrayBuffer> | null> => {
    if (left === 0) return null;
    const chunk = await c.take(Math.min(max, left));
    if (chunk === null) throw new Error("connection closed inside a body");
    left -= chunk.byteLength;
    return chunk;
  };
}

/** Reads of a chunked body; null after the last chunk and the trailer. */
export function chunkedReader(
  c: Http1Connection,
): (max: number) => Promise<Uint8Array<ArrayBuffer> | null> {
  let left = 0;
  let ended = false;
  return async (max: number): Promise<Uint8Array<ArrayBuffer> | null> => {
    if (ended) return null;
    while (left === 0) {
      const size = (await c.line()).split(";")[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new Error("bad chunk size");
      left = parseInt(size, 16);
      if (left === 0) {
        while ((await c.line()) !== "") { /* trailer fields */ }
        ended = true;
        return null;
      }
    }
    const chunk = await c.take(Math.min(max, left));
    if (chunk === null) throw new Error("connection closed inside a chunked body");
    left -= chunk.byteLength;
    if (left === 0) {
      if ((await c.line()) !== "") throw new Error("bad chunk end");
    }
    return chunk;
  };
}
