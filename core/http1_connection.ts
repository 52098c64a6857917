/**
 * One connection of the HTTP/1.1 client ({@linkcode Http1Connection}): its
 * read buffer, the reads that fill it, and the bound on each phase of a
 * request ({@linkcode bounded}).
 *
 * @module
 */

import { deadline } from "./deadlines.ts";

/** Bytes of a connection's read buffer (it grows for a larger head or line). */
export const BUFFER_BYTES = 16 * 1024;
/** Longest answer head, and longest line of a chunked body, accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Decodes head bytes one to one (RFC 9110 field values are octets). */
export const latin1: TextDecoder = new TextDecoder("latin1");

/** One connection and what it has read but not consumed. */
export class Http1Connection {
  buf = new Uint8Array(BUFFER_BYTES);
  start = 0;
  end = 0;
  idleSince = 0;
  closed = false;
  /** In the pool, waiting for its next request. */
  idle = false;
  /**
   * The read started when the connection went idle: bytes or the end the
   * server sends unasked drop the connection from the pool; else the next
   * request's first read is this one.
   */
  idleRead: Promise<number | null> | undefined;
  /** Set when the current phase's bound passed or the request was aborted. */
  failure: Error | undefined;

  /** @param conn the open connection */
  constructor(readonly conn: Deno.Conn) {}

  /** Close it, once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* already gone */ }
  }

  /** Read more bytes into the buffer; false at the end of the connection. */
  async fill(): Promise<boolean> {
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      const kept = this.end - this.start;
      const next = kept * 2 > this.buf.length ? new Uint8Array(this.buf.length * 2) : this.buf;
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.start = 0;
      this.end = kept;
    }
    let n: number | null;
    const pending = this.idleRead;
    this.idleRead = undefined;
    try {
      n = await (pending ?? this.conn.read(this.buf.subarray(this.end)));
    } catch (error) {
      throw this.failure ?? error;
    }
    if (this.failure) throw this.failure;
    if (n === null) return false;
    this.end += n;
    return true;
  }

  /** The next `length` buffered bytes (a copy); the caller knows they are there. */
  cut(length: number): Uint8Array<ArrayBuffer> {
    const out = this.buf.slice(this.start, this.start + length);
    this.start += length;
    return out;
  }

  /** Up to `max` buffered bytes (a copy), reading when none are. */
  async take(max: number): Promise<Uint8Array<ArrayBuffer> | null> {
    if (this.start === this.end && !(await this.fill())) return null;
    return this.cut(Math.min(max, this.end - this.start));
  }

  /** The next line (without CRLF), reading as needed. */
  async line(): Promise<string> {
    for (;;) {
      const at = this.buf.subarray(this.start, this.end).indexOf(10);
      if (at >= 0) {
        const text = latin1.decode(this.buf.subarray(this.start, this.start + at));
        this.start += at + 1;
        return text.endsWith("\r") ? text.slice(0, -1) : text;
      }
      if (this.end - this.start > MAX_HEAD_BYTES) throw new Error("line too long");
      if (!(await this.fill())) throw new Error("connection closed inside a chunked body");
    }
  }
}

/** Run `work` with `c` closed and `c.failure` set to `late()` if it takes longer than `ms`. */
export async function bounded<T>(
  c: Http1Connection,
  ms: number,
  late: () => Error,
  work: Promise<T>,
): Promise<T> {
  const timer = deadline(ms, () => {
    c.failure = late();
    c.close();
  });
  try {
    return await work;
  } finally {
    timer.cancel();
  }
}

/** Write all of `bytes` to `conn`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
}
