/**
 * A keep-alive HTTP/1.1 client over `Deno.connect` (or `Deno.connectTls`)
 * for the two hops of a read — gateway → retriever and retriever → S3 — where
 * every request is a small GET whose answer is a few KiB. One request is one
 * write of the pre-formatted head and usually one read of the whole answer;
 * no `Request`, no `AbortSignal`, no body stream unless the body is large.
 * On the 2-core reference machine a 4 KiB GET costs markedly less CPU than
 * the same GET through `fetch` (see `docs/benchmarks.md`).
 *
 * What it speaks: requests without a body; answers framed by
 * `Content-Length`, chunked transfer coding, or the end of the connection;
 * `1xx` interim answers skipped. Anything else is an error, never a guess:
 * a malformed status line or field line (obs-fold included), a `101`, a
 * `Content-Length` that is not one number, a head over 64 KiB. A transfer
 * coding frames the body whatever a `Content-Length` says, and an answer
 * with both leaves its connection closed. Bodies of at most
 * `wholeBodyLimit` bytes (by their `Content-Length`) are read whole before
 * {@linkcode Http1Pool.request} returns; others stream, each chunk bounded
 * by the idle timeout.
 *
 * Bounds: connect, write and the answer's head within `headersTimeoutMs`
 * ({@linkcode Http1TimeoutError} when late), then each body read within
 * `idleTimeoutMs` (the caller's `onIdle()` error); an expiry closes the
 * connection. A connection taken from the pool that turns out closed by the
 * server before any byte of the answer arrived is replaced by a new one, once
 * (the usual keep-alive race; only bodiless, idempotent requests are sent).
 * An idle connection has a read pending: bytes or the end that the server
 * sends unasked drop it from the pool, so they are never taken for the
 * answer to the next request. A connection is reused only when its answer
 * ended exactly where its framing said.
 *
 * @module
 */

import { deadline } from "./deadlines.ts";

/** Options of {@linkcode Http1Pool}. */
export interface Http1PoolOptions {
  /** Idle connections kept per origin (default 256). */
  maxIdlePerOrigin?: number;
  /** Milliseconds an idle connection may wait for its next request (default 30 000). */
  idleTimeoutMs?: number;
  /** PEM CA certificates trusted for `https:` origins (besides the system's). */
  caCerts?: string[];
  /** Largest body read whole before the answer is returned (default 64 KiB). */
  wholeBodyLimit?: number;
}

/** Where requests go: parsed once per base URL by {@linkcode http1Origin}. */
export interface Http1Origin {
  /** Pool key, e.g. `http://127.0.0.1:8101`. */
  readonly key: string;
  /** Host to connect to (no brackets). */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
  /** `https:`. */
  readonly tls: boolean;
  /** Value of the `Host` header. */
  readonly host: string;
}

/** One request (no body). */
export interface Http1Request {
  /** `GET`, `HEAD` or `DELETE`. */
  method: string;
  /** Path and query, e.g. `/files/x?y`. */
  target: string;
  /** Header lines to send besides `Host` (names and values as `Headers` accepts them). */
  headers?: Iterable<readonly [string, string]>;
  /** Most milliseconds from the start to the answer's head. */
  headersTimeoutMs: number;
  /** Most milliseconds the body may take to deliver its next bytes. */
  idleTimeoutMs: number;
  /** The error of a body that stalls. */
  onIdle: () => Error;
  /** Aborts the request (and its body). */
  signal?: AbortSignal;
}

/** An answer. */
export interface Http1Answer {
  /** Status code. */
  status: number;
  /** Header fields in order, names lower-case. */
  headers: [string, string][];
  /**
   * Null when the answer has none (HEAD, 204, 304); the bytes when read
   * whole (a `Content-Length` up to `wholeBodyLimit`); else a stream.
   */
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | null;
}

/** The answer's head did not arrive within `headersTimeoutMs`. */
export class Http1TimeoutError extends Error {
  /** @param ms the bound that passed */
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "Http1TimeoutError";
  }
}

/** The origin of an `http:` or `https:` base URL. */
export function http1Origin(url: string): Http1Origin {
  const u = new URL(url);
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new TypeError(`not an http(s) URL: ${url}`);
  }
  const tls = u.protocol === "https:";
  const port = u.port ? Number(u.port) : tls ? 443 : 80;
  return {
    key: `${u.protocol}//${u.host}`,
    hostname: u.hostname.replace(/^\[|\]$/g, ""),
    port,
    tls,
    host: u.host,
  };
}

const DEFAULT_WHOLE_BODY_LIMIT = 64 * 1024;
const BUFFER_BYTES = 16 * 1024;
/** Longest answer head accepted. */
const MAX_HEAD_BYTES = 64 * 1024;
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: |$)/;
/** A field name (RFC 9110 `token`); a line starting with a space (obs-fold) is not one. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes a field value never holds (a bare CR or LF would end a line for another parser). */
const FIELD_VALUE_FORBIDDEN = /[\0\r\n]/;

/** One connection and what it has read but not consumed. */
class Connection {
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

  constructor(readonly conn: Deno.Conn) {}

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
async function bounded<T>(c: Connection, ms: number, late: () => Error, work: Promise<T>) {
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

/** Keep-alive connections per origin, and the requests sent on them. */
export class Http1Pool {
  readonly #idle = new Map<string, Connection[]>();
  readonly #maxIdle: number;
  readonly #idleMs: number;
  readonly #caCerts?: string[];
  readonly #wholeLimit: number;
  #closed = false;

  /** @param options pool size, idle timeout, trusted CAs, whole-body limit */
  constructor(options: Http1PoolOptions = {}) {
    this.#maxIdle = options.maxIdlePerOrigin ?? 256;
    this.#idleMs = options.idleTimeoutMs ?? 30_000;
    this.#caCerts = options.caCerts;
    this.#wholeLimit = options.wholeBodyLimit ?? DEFAULT_WHOLE_BODY_LIMIT;
  }

  /**
   * Send `request` to `origin`. Throws {@linkcode Http1TimeoutError} when
   * the head is late, the connection's error when it fails, `signal.reason`
   * when aborted.
   */
  async request(origin: Http1Origin, request: Http1Request): Promise<Http1Answer> {
    const head = encoder.encode(headText(origin, request));
    const { signal } = request;
    signal?.throwIfAborted();
    const ms = request.headersTimeoutMs;
    const late = () => new Http1TimeoutError(ms);
    let c = this.#take(origin);
    for (;;) {
      const reused = c !== undefined;
      let started = false;
      const t0 = performance.now();
      const onAbort = () => {
        if (!c) return;
        c.failure = signal!.reason;
        c.close();
      };
      try {
        c ??= await this.#connect(origin, ms);
        signal?.addEventListener("abort", onAbort, { once: true });
        signal?.throwIfAborted(); // while connecting
        const left = Math.max(1, ms - (performance.now() - t0));
        const answerHead = await bounded(
          c,
          left,
          late,
          this.#exchange(c, head, () => started = true),
        );
        return await this.#answer(origin, c, request, answerHead);
      } catch (error) {
        c?.close();
        const retry = reused && !started && !c?.failure && !signal?.aborted;
        if (!retry) throw c?.failure ?? error;
        c = undefined;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    }
  }

  /** Write the head, read the answer's head. */
  async #exchange(c: Connection, head: Uint8Array, onFirstByte: () => void) {
    await writeAll(c.conn, head);
    return await readHead(c, onFirstByte);
  }

  /** Close every idle connection; connections in use are closed when released. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
  }

  #take(origin: Http1Origin): Connection | undefined {
    const list = this.#idle.get(origin.key);
    const c = list?.pop();
    if (!c) return undefined;
    c.idle = false;
    c.conn.ref();
    if (performance.now() - c.idleSince <= this.#idleMs) return c;
    // The newest idle connection is too old: so are all the others.
    c.close();
    for (const old of list!) old.close();
    list!.length = 0;
    return undefined;
  }

  #release(origin: Http1Origin, c: Connection): void {
    let list = this.#idle.get(origin.key);
    if (!list) this.#idle.set(origin.key, list = []);
    if (this.#closed || c.closed || list.length >= this.#maxIdle) return c.close();
    if (c.buf.length > BUFFER_BYTES) c.buf = new Uint8Array(BUFFER_BYTES);
    c.start = c.end = 0;
    c.failure = undefined;
    c.idleSince = performance.now();
    list.push(c);
    this.#watch(list, c);
  }

  /** Drop `c` from the pool (`list`) when the server sends bytes or the end while it is idle. */
  #watch(list: Connection[], c: Connection): void {
    c.idle = true;
    c.conn.unref(); // an idle connection does not keep the process alive
    const read = c.conn.read(c.buf);
    c.idleRead = read;
    const drop = () => {
      if (!c.idle) return; // taken: the request reads the outcome
      c.idle = false;
      const at = list.indexOf(c);
      if (at >= 0) list.splice(at, 1);
      c.close();
    };
    read.then(drop, drop);
  }

  /** A new connection within `ms` (a late one is closed when it comes). */
  #connect(origin: Http1Origin, ms: number): Promise<Connection> {
    const options = { hostname: origin.hostname, port: origin.port };
    const connecting: Promise<Deno.Conn> = origin.tls
      ? Deno.connectTls({ ...options, caCerts: this.#caCerts })
      : Deno.connect(options);
    return new Promise<Connection>((resolve, reject) => {
      let late = false;
      const timer = deadline(ms, () => {
        late = true;
        reject(new Http1TimeoutError(ms));
      });
      connecting.then((conn) => {
        timer.cancel();
        if (late) return conn.close();
        if (!origin.tls) (conn as Deno.TcpConn).setNoDelay(true);
        resolve(new Connection(conn));
      }, (error) => {
        timer.cancel();
        reject(error);
      });
    });
  }

  async #answer(
    origin: Http1Origin,
    c: Connection,
    request: Http1Request,
    head: AnswerHead,
  ): Promise<Http1Answer> {
    const { status, headers, keepAlive } = head;
    const done = () => {
      if (keepAlive && c.start === c.end) this.#release(origin, c);
      else c.close();
    };
    if (request.method === "HEAD" || status === 204 || status === 304) {
      done();
      return { status, headers, body: null };
    }
    let length: number | undefined;
    let codings: string | undefined;
    for (const [name, value] of headers) {
      if (name === "transfer-encoding") codings = codings ? `${codings}, ${value}` : value;
      else if (name === "content-length") length = contentLength(value, length);
    }
    // A transfer coding frames the body, whatever a Content-Length says; both
    // together may be a smuggling attempt: that connection is not reused.
    const chunked = codings !== undefined && /(?:^|,)[ \t]*chunked[ \t]*$/i.test(codings);
    const ambiguous = codings !== undefined && length !== undefined;
    if (codings !== undefined) length = undefined;
    if (length !== undefined && length <= this.#wholeLimit) {
      // A small body usually came in the read of the head: no read, no bound to set.
      const body = c.end - c.start >= length ? c.cut(length) : await bounded(
        c,
        request.idleTimeoutMs,
        request.onIdle,
        readExactly(c, length),
      ).catch((error) => {
        c.close();
        throw error;
      });
      done();
      return { status, headers, body };
    }
    const next = chunked
      ? chunkedReader(c)
      : length !== undefined
      ? lengthReader(c, length)
      : (max: number) => c.take(max);
    const reusable = keepAlive && !ambiguous && (chunked || length !== undefined);
    return { status, headers, body: this.#stream(origin, c, request, next, reusable) };
  }

  /** A body stream over `next`; the connection goes back to the pool at its end. */
  #stream(
    origin: Http1Origin,
    c: Connection,
    request: Http1Request,
    next: (max: number) => Promise<Uint8Array<ArrayBuffer> | null>,
    reusable: boolean,
  ): ReadableStream<Uint8Array<ArrayBuffer>> {
    const { signal } = request;
    const onAbort = () => {
      c.failure = signal!.reason;
      c.close();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const finish = (reuse: boolean) => {
      signal?.removeEventListener("abort", onAbort);
      if (reuse && c.start === c.end) this.#release(origin, c);
      else c.close();
    };
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        try {
          const chunk = await bounded(c, request.idleTimeoutMs, request.onIdle, next(64 * 1024));
          if (chunk === null) {
            finish(reusable);
            controller.close();
          } else controller.enqueue(chunk);
        } catch (error) {
          finish(false);
          controller.error(error);
        }
      },
      cancel: () => finish(false),
    }, { highWaterMark: 0 });
  }
}

/** Status line and header fields of an answer. */
interface AnswerHead {
  status: number;
  headers: [string, string][];
  keepAlive: boolean;
}

/** Status line and header fields (interim `1xx` answers skipped). */
async function readHead(c: Connection, onFirstByte: () => void): Promise<AnswerHead> {
  // Bytes after `c.start` searched already (`fill` may move them in the buffer).
  let scanned = 0;
  for (;;) {
    const at = indexOfBlankLine(c.buf, c.start + Math.max(0, scanned - 3), c.end);
    if ((at < 0 ? c.end : at) - c.start > MAX_HEAD_BYTES) throw new Error("answer head too large");
    if (at < 0) {
      scanned = c.end - c.start;
      if (!(await c.fill())) throw new Error("connection closed before an answer");
      onFirstByte();
      continue;
    }
    const lines = latin1.decode(c.buf.subarray(c.start, at)).split("\r\n");
    c.start = at + 4;
    scanned = 0;
    const status = STATUS_LINE.exec(lines[0]);
    if (!status) {
      throw new Error(`not an HTTP/1.x answer: ${JSON.stringify(lines[0].slice(0, 40))}`);
    }
    const code = Number(status[2]);
    // No request asks for an upgrade: after a 101 the bytes are another protocol's.
    if (code === 101) throw new Error("101 Switching Protocols to a request without Upgrade");
    if (code < 200) continue;
    const headers: [string, string][] = [];
    let close = false;
    let keepAliveAsked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(":");
      const name = line.slice(0, colon);
      const value = trimmedValue(line, colon + 1);
      if (colon <= 0 || !FIELD_NAME.test(name) || FIELD_VALUE_FORBIDDEN.test(value)) {
        throw new Error(`bad header line: ${JSON.stringify(line.slice(0, 40))}`);
      }
      const lower = name.toLowerCase();
      if (lower === "connection") {
        for (const option of value.toLowerCase().split(",")) {
          const token = option.trim();
          if (token === "close") close = true;
          else if (token === "keep-alive") keepAliveAsked = true;
        }
      }
      headers.push([lower, value]);
    }
    // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked.
    const keepAlive = !close && (status[1] === "1" || keepAliveAsked);
    return { status: code, headers, keepAlive };
  }
}

/** `line` from `from` on, without leading and trailing spaces and tabs (OWS). */
function trimmedValue(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && isOws(line.charCodeAt(start))) start++;
  while (end > start && isOws(line.charCodeAt(end - 1))) end--;
  return line.slice(start, end);
}

/** A space or a horizontal tab. */
function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/** The request head: request line, `Host`, the caller's header lines, blank line. */
function headText(origin: Http1Origin, request: Http1Request): string {
  if (/[\s]/.test(request.target)) {
    throw new TypeError(`request target ${JSON.stringify(request.target)} has white space`);
  }
  let text = `${request.method} ${request.target} HTTP/1.1\r\nhost: ${origin.host}\r\n`;
  if (request.headers) {
    for (const [name, value] of request.headers) {
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
        throw new TypeError(`header ${JSON.stringify(name)} has a line break`);
      }
      text += `${name}: ${value}\r\n`;
    }
  }
  return text + "\r\n";
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
}

/** Index of the `\r\n\r\n` ending a head in `buf[from, to)`, or -1. */
function indexOfBlankLine(buf: Uint8Array, from: number, to: number): number {
  for (let i = buf.indexOf(13, from); i >= 0 && i + 3 < to; i = buf.indexOf(13, i + 1)) {
    if (buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/**
 * The length a `Content-Length` value declares, given the one declared by an
 * earlier field (`previous`): repeats of one number are that number, any
 * other value is an error.
 */
function contentLength(value: string, previous: number | undefined): number {
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
async function readExactly(c: Connection, length: number): Promise<Uint8Array<ArrayBuffer>> {
  while (c.end - c.start < length) {
    if (!(await c.fill())) throw new Error("connection closed inside a body");
  }
  return c.cut(length);
}

/** Reads of a body of `length` bytes; null after the last. */
function lengthReader(c: Connection, length: number) {
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
function chunkedReader(c: Connection) {
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
