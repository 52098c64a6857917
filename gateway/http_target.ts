/**
 * A retriever reached over HTTP(S). Requests reuse keep-alive connections
 * and carry the shared retriever token when one is set; a retriever that
 * does not answer within the timeout, answers for another id, or says the
 * shard is not its own (421) is reported as unavailable, so the gateway
 * answers 503 instead of a wrong file. A small body that stalls is a 503
 * too (it is read whole before the gateway answers); a larger one that
 * stalls after the headers (no chunk within `idleTimeoutMs`) is cut off,
 * and the connection with it.
 *
 * With a `pool` (as `hopTargetOptions` gives) forwards go on keep-alive
 * HTTP/1.1 connections of `core/http1_client.ts` (TLS for `https://`),
 * which costs the gateway less CPU per read than `fetch`; without one they
 * go through `fetch`, as do the readiness probes.
 *
 * @module
 */

import { deadline } from "../core/deadlines.ts";
import { DesUnavailableError } from "../core/errors.ts";
import {
  type Http1Origin,
  http1Origin,
  type Http1Pool,
  Http1TimeoutError,
} from "../core/http1_client.ts";
import { bodyWithin, declaredLength, idleTimeout } from "../core/timeouts.ts";
import { RETRIEVER_HEADER } from "../core/read_path.ts";
import type { ShardRange } from "../naming/shard_range.ts";
import type { ForwardRequest, RetrieverTarget } from "./target.ts";

/** Largest body the hop reads whole before answering (bytes, by its `Content-Length`). */
export const BUFFERED_HOP_BODY_LIMIT = 64 * 1024;

/** Options of {@linkcode HttpRetrieverTarget}. */
export interface HttpTargetOptions {
  /** Milliseconds to wait for response headers (default 10 000). */
  timeoutMs?: number;
  /** Milliseconds a response body may take to deliver its next chunk (default 10 000). */
  idleTimeoutMs?: number;
  /** HTTP client of `fetch` (e.g. one trusting a private CA): probes, and forwards without `pool`. */
  client?: Deno.HttpClient;
  /** Keep-alive HTTP/1.1 connections for the forwards (preferred over `fetch` when set). */
  pool?: Http1Pool;
  /** Shared secret sent as `Authorization: Bearer <token>` to the retriever. */
  token?: string;
}

/** A retriever behind a base URL. */
export class HttpRetrieverTarget implements RetrieverTarget {
  /** Base URL without a trailing slash. */
  readonly location: string;
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  readonly #client?: Deno.HttpClient;
  readonly #pool?: { pool: Http1Pool; origin: Http1Origin };
  readonly #authorization?: string;

  /**
   * @param id expected retriever id
   * @param url base URL, e.g. `http://10.0.0.5:8101`
   * @param range shards it owns
   * @param options timeouts, HTTP client and token
   */
  constructor(
    readonly id: string,
    url: string,
    readonly range: ShardRange,
    options: HttpTargetOptions = {},
  ) {
    this.location = url.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#idleMs = options.idleTimeoutMs ?? 10_000;
    this.#client = options.client;
    if (options.pool) this.#pool = { pool: options.pool, origin: http1Origin(this.location) };
    this.#authorization = options.token ? `Bearer ${options.token}` : undefined;
  }

  /**
   * Forward one request. A body of at most {@linkcode BUFFERED_HOP_BODY_LIMIT}
   * bytes (by its `Content-Length`) is read whole within `idleTimeoutMs`, so
   * the gateway's server sends bytes instead of pumping a stream and a stall
   * is a 503 before any header goes out; a larger body streams through
   * unread, each chunk bounded by `idleTimeoutMs`. `request.headers` is the
   * target's to change (the token is set on it). The response's headers are
   * the caller's to change.
   */
  forward(request: ForwardRequest): Promise<Response> {
    if (this.#authorization) request.headers.push(["authorization", this.#authorization]);
    return this.#pool ? this.#forwardPooled(request, this.#pool) : this.#fetch(request);
  }

  /** Forward on a pooled HTTP/1.1 connection; see {@linkcode Http1Pool.request} for the bounds. */
  async #forwardPooled(
    request: ForwardRequest,
    { pool, origin }: { pool: Http1Pool; origin: Http1Origin },
  ): Promise<Response> {
    let answer;
    try {
      answer = await pool.request(origin, {
        method: request.method,
        target: request.path,
        headers: request.headers,
        headersTimeoutMs: this.#timeoutMs,
        idleTimeoutMs: this.#idleMs,
        onIdle: () => this.#unavailable(`stalled: no body bytes within ${this.#idleMs} ms`),
        signal: request.signal,
      });
    } catch (cause) {
      if (cause instanceof DesUnavailableError) throw cause; // a stalled small body
      throw this.#unavailable(
        cause instanceof Http1TimeoutError
          ? `did not answer within ${this.#timeoutMs} ms`
          : "is not reachable",
        cause,
      );
    }
    const { status, headers, body } = answer;
    let answeredBy: string | null = null;
    for (const [name, value] of headers) if (name === RETRIEVER_HEADER) answeredBy = value;
    if (answeredBy !== this.id || status === 421) {
      if (body instanceof ReadableStream) await body.cancel().catch(() => {});
      throw this.#misdirected(answeredBy);
    }
    return new Response(body, { status, headers });
  }

  async #fetch(request: ForwardRequest): Promise<Response> {
    // One controller for the headers timeout, a stalled body and the caller's signal.
    const abort = new AbortController();
    let timedOut = false;
    const timer = deadline(this.#timeoutMs, () => {
      timedOut = true;
      abort.abort();
    });
    const signal = request.signal ? AbortSignal.any([request.signal, abort.signal]) : abort.signal;
    let response: Response;
    try {
      response = await fetch(`${this.location}${request.path}`, {
        method: request.method,
        headers: request.headers,
        signal,
        client: this.#client,
        redirect: "manual",
      });
    } catch (cause) {
      throw this.#unavailable(
        timedOut ? `did not answer within ${this.#timeoutMs} ms` : "is not reachable",
        cause,
      );
    } finally {
      timer.cancel();
    }
    const answeredBy = response.headers.get(RETRIEVER_HEADER);
    if (answeredBy !== this.id || response.status === 421) {
      await response.body?.cancel().catch(() => {});
      throw this.#misdirected(answeredBy);
    }
    const init = { status: response.status, headers: response.headers };
    if (!response.body) return new Response(null, init);
    const stalled = () => this.#unavailable(`stalled: no body bytes within ${this.#idleMs} ms`);
    const length = declaredLength(response);
    if (length !== undefined && length <= BUFFERED_HOP_BODY_LIMIT) {
      const bytes = await bodyWithin(response, this.#idleMs, stalled, () => abort.abort())
        .catch((cause) => {
          // A body cut short is the retriever's failure, as on the pool.
          throw cause instanceof DesUnavailableError
            ? cause
            : this.#unavailable("is not reachable", cause);
        });
      return new Response(bytes, init);
    }
    const body = idleTimeout(response.body, this.#idleMs, stalled, () => abort.abort());
    return new Response(body, init);
  }

  /**
   * `GET /readyz` of the retriever (3 s timeout, above the retriever's own
   * bound on its checks, so its answer naming what is down gets through).
   */
  async ready(): Promise<string> {
    try {
      const res = await fetch(`${this.location}/readyz`, {
        signal: AbortSignal.timeout(3000),
        client: this.#client,
        headers: this.#authorization ? { authorization: this.#authorization } : {},
      });
      const body = await res.text();
      if (res.headers.get(RETRIEVER_HEADER) !== this.id) {
        return `${this.location} is not ${this.id}`;
      }
      return res.ok ? "ok" : `not ready: ${body.slice(0, 300)}`;
    } catch (error) {
      return `not reachable: ${(error as Error).message}`;
    }
  }

  /** The answer of another retriever, or a 421. */
  #misdirected(answeredBy: string | null): DesUnavailableError {
    return this.#unavailable(
      answeredBy !== this.id
        ? `answered as ${JSON.stringify(answeredBy)} instead of ${this.id}`
        : "does not own the shard (421)",
    );
  }

  #unavailable(what: string, cause?: unknown): DesUnavailableError {
    return new DesUnavailableError(
      `retriever ${this.id} for shards ${this.range.start}-${this.range.end} ${what}`,
      { retriever: this.id },
      cause,
    );
  }
}
