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
 * connection. At most `maxInFlightPerOrigin` requests to one origin are in
 * flight — from the connection to the answer's head, or to the end of a body
 * read whole — so a burst cannot open more connections than that to one S3
 * endpoint or retriever: the others wait for a place, first come first
 * served, within their `headersTimeoutMs` (a body that streams holds no
 * place, so a caller that never reads one cannot starve the others). A
 * connection taken from the pool that turns out closed by the server before
 * any byte of the answer arrived is replaced by a new one, once
 * (the usual keep-alive race; only bodiless, idempotent requests are sent).
 * An idle connection has a read pending: bytes or the end that the server
 * sends unasked drop it from the pool, so they are never taken for the
 * answer to the next request. A connection is reused only when its answer
 * ended exactly where its framing said.
 *
 * The pieces: one connection and its bounds in `http1_connection.ts`, the
 * request and answer heads in `http1_head.ts`, body framing in
 * `http1_body.ts`.
 *
 * @module
 */

import { deadline } from "./deadlines.ts";
import { chunkedReader, contentLength, lengthReader, readExactly } from "./http1_body.ts";
import { bounded, BUFFER_BYTES, Http1Connection, writeAll } from "./http1_connection.ts";
import { type AnswerHead, readAnswerHead, requestHead } from "./http1_head.ts";
import { RequestSlots } from "./request_slots.ts";

/** Options of {@linkcode Http1Pool}. */
export interface Http1PoolOptions {
  /** Idle connections kept per origin (default 256). */
  maxIdlePerOrigin?: number;
  /** Requests in flight per origin, waiting for or reading an answer's head (default 512). */
  maxInFlightPerOrigin?: number;
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
const encoder = new TextEncoder();

/** Keep-alive connections per origin, and the requests sent on them. */
export class Http1Pool {
  readonly #idle = new Map<string, Http1Connection[]>();
  readonly #slots = new Map<string, RequestSlots>();
  readonly #maxIdle: number;
  readonly #maxInFlight: number;
  readonly #idleMs: number;
  readonly #caCerts?: string[];
  readonly #wholeLimit: number;
  #closed = false;

  /** @param options pool size, idle timeout, trusted CAs, whole-body limit */
  constructor(options: Http1PoolOptions = {}) {
    this.#maxIdle = options.maxIdlePerOrigin ?? 256;
    this.#maxInFlight = options.maxInFlightPerOrigin ?? 512;
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
    const head = encoder.encode(
      requestHead(origin.host, request.method, request.target, request.headers),
    );
    const { signal } = request;
    signal?.throwIfAborted();
    const late = () => new Http1TimeoutError(request.headersTimeoutMs);
    let slots = this.#slots.get(origin.key);
    if (!slots) this.#slots.set(origin.key, slots = new RequestSlots(this.#maxInFlight));
    let release = slots.tryTake();
    let ms = request.headersTimeoutMs;
    if (!release) {
      const t0 = performance.now();
      release = await slots.wait(ms, late, signal);
      ms = Math.max(1, ms - (performance.now() - t0));
    }
    try {
      return await this.#send(origin, request, head, ms, late);
    } finally {
      release();
    }
  }

  /** Send on an idle connection or a new one; `ms` is what is left of the head's bound. */
  async #send(
    origin: Http1Origin,
    request: Http1Request,
    head: Uint8Array,
    ms: number,
    late: () => Error,
  ): Promise<Http1Answer> {
    const { signal } = request;
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
  async #exchange(c: Http1Connection, head: Uint8Array, onFirstByte: () => void) {
    await writeAll(c.conn, head);
    return await readAnswerHead(c, onFirstByte);
  }

  /** Close every idle connection; connections in use are closed when released. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
  }

  #take(origin: Http1Origin): Http1Connection | undefined {
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

  #release(origin: Http1Origin, c: Http1Connection): void {
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
  #watch(list: Http1Connection[], c: Http1Connection): void {
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
  #connect(origin: Http1Origin, ms: number): Promise<Http1Connection> {
    const options = { hostname: origin.hostname, port: origin.port };
    const connecting: Promise<Deno.Conn> = origin.tls
      ? Deno.connectTls({ ...options, caCerts: this.#caCerts })
      : Deno.connect(options);
    return new Promise<Http1Connection>((resolve, reject) => {
      let late = false;
      const timer = deadline(ms, () => {
        late = true;
        reject(new Http1TimeoutError(ms));
      });
      connecting.then((conn) => {
        timer.cancel();
        if (late) return conn.close();
        if (!origin.tls) (conn as Deno.TcpConn).setNoDelay(true);
        resolve(new Http1Connection(conn));
      }, (error) => {
        timer.cancel();
        reject(error);
      });
    });
  }

  async #answer(
    origin: Http1Origin,
    c: Http1Connection,
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
    c: Http1Connection,
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
