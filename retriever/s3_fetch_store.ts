/**
 * An {@linkcode ObjectStore} for the read path that sends GETs itself — one
 * GET of a presigned URL (SigV4 in the query, reused for a minute per
 * object, `Range` and `If-Match` sent as plain headers), on the keep-alive
 * HTTP/1.1 connections of a `pool` (`core/http1_client.ts`) when one is
 * given, else by `fetch` — and delegates every other operation to an
 * `S3ObjectStore`. Measured on the reference machine, a 4 KiB ranged GET
 * through the AWS SDK (node:http compatibility layer) costs about twice the
 * CPU of the same GET through `fetch`, and the pool less than `fetch` (see
 * `docs/benchmarks.md`). A body up to {@linkcode WHOLE_BODY_LIMIT} is read
 * whole before `get` returns and handed over as `bytes` (its stall is the
 * `get`'s error).
 *
 * Semantics are those of `S3ObjectStore.get`: ranged and conditional
 * (`If-Match`) reads, errors mapped by `s3Error` (404 → `DesNotFoundError`,
 * 412 → `DesConflictError`, 416 → range not satisfiable, 403 → config),
 * retries of network failures and 5xx answers, every attempt reported to
 * the request hook.
 *
 * Every GET is bounded: connect plus response headers within
 * `headersTimeoutMs` (default {@linkcode DEFAULT_S3_HEADERS_TIMEOUT_MS}), and
 * then each body chunk within `idleTimeoutMs` (default
 * {@linkcode DEFAULT_S3_IDLE_TIMEOUT_MS}); either expiry is a
 * `DesUnavailableError` (503 at the edge), never a hung read. A timed-out
 * attempt is not retried: a frozen server would only multiply the wait.
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
import { redactCredentials } from "../core/redact.ts";
import { bodyWithin, declaredLength, idleTimeout, withTimeout } from "../core/timeouts.ts";
import type {
  GetOptions,
  GetResult,
  IncompleteUpload,
  ListedObject,
  ObjectInfo,
  ObjectStore,
  ObjectWriter,
  PutOptions,
  RequestHook,
} from "../store/object_store.ts";
import { validateKey } from "../store/keys.ts";
import { checkRange, rangeHeader } from "../store/range.ts";
import { s3Error } from "../store/s3_errors.ts";
import { LruCache } from "./lru.ts";
import { SigV4Signer, uriEncodePath } from "./sigv4.ts";

/** Where and how to reach the bucket. */
export interface S3FetchSettings {
  /** Endpoint URL, e.g. `http://127.0.0.1:7480` (path-style addressing). */
  endpoint: string;
  /** Region. */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Bucket. */
  bucket: string;
  /** Attempts per GET, retries included (default 3). */
  maxAttempts?: number;
  /** Called once per HTTP request made by `get`. */
  onRequest?: RequestHook;
  /** Most milliseconds from sending a GET to its response headers (connect included). */
  headersTimeoutMs?: number;
  /** Most milliseconds the body may take to deliver its next chunk. */
  idleTimeoutMs?: number;
  /**
   * Keep-alive HTTP/1.1 connections to send the GETs on instead of `fetch`
   * (the caller closes it).
   */
  pool?: Http1Pool;
}

/** Default bound on connect + response headers of one S3 GET. */
export const DEFAULT_S3_HEADERS_TIMEOUT_MS = 5_000;
/** Default bound on the wait for the next chunk of an S3 GET's body. */
export const DEFAULT_S3_IDLE_TIMEOUT_MS = 10_000;

/** Seconds a presigned GET URL is valid. */
export const PRESIGN_EXPIRES_SECONDS = 900;
/**
 * Milliseconds a presigned URL is reused before a new one is made: well
 * inside its validity, so a URL never expires in flight, and the signing
 * cost (two SHA-256 and an HMAC) is paid once a minute per object instead
 * of once per read.
 */
export const PRESIGN_REUSE_MS = 60_000;
/** Presigned URLs kept, one per object read recently. */
const PRESIGNED_URLS_KEPT = 4096;

/**
 * Largest body (bytes, by its `Content-Length`) delivered as one chunk read
 * whole within the idle timeout, instead of a stream pumped chunk by chunk.
 */
export const WHOLE_BODY_LIMIT = 64 * 1024;

/** One answer of S3, from `fetch` or the pool: a small body is already read. */
interface S3Answer {
  status: number;
  header(name: string): string | null;
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;
}

/** One attempt failed before an answer; `timedOut` when its bound passed. */
class AttemptFailure {
  constructor(readonly timedOut: boolean, readonly cause: unknown) {}
}

/** The stream of a body read whole (one chunk), or the body stream as it is. */
function bodyStream(body: S3Answer["body"]): ReadableStream<Uint8Array> {
  if (body === null) return ReadableStream.from<Uint8Array>([]);
  if (!(body instanceof Uint8Array)) return body;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (body.byteLength > 0) controller.enqueue(body);
      controller.close();
    },
  }, { highWaterMark: 0 });
}

/** GET by `fetch`, everything else by the wrapped store. */
export class S3FetchGetStore implements ObjectStore {
  /** `s3://BUCKET`. */
  readonly url: string;
  /** The wrapped store (all operations but `get`). */
  readonly inner: ObjectStore;
  readonly #settings: S3FetchSettings;
  readonly #signer: SigV4Signer;
  readonly #host: string;
  readonly #presigned = new LruCache<string, { url: string; until: number }>({
    maxEntries: PRESIGNED_URLS_KEPT,
  });
  readonly #origin: string;
  readonly #pooled?: { pool: Http1Pool; origin: Http1Origin };

  /** @param inner the S3 store of the same bucket @param settings endpoint, credentials, hook */
  constructor(inner: ObjectStore, settings: S3FetchSettings) {
    this.inner = inner;
    this.#settings = settings;
    this.url = inner.url;
    this.#signer = new SigV4Signer(settings);
    const base = new URL(settings.endpoint);
    this.#host = base.host;
    this.#origin = base.origin;
    if (settings.pool) this.#pooled = { pool: settings.pool, origin: http1Origin(base.origin) };
  }

  /** See {@linkcode ObjectStore.listIncompleteUploads}: the wrapped store's. */
  listIncompleteUploads(prefix: string): AsyncIterable<IncompleteUpload> {
    return this.inner.listIncompleteUploads(prefix);
  }

  /** See {@linkcode ObjectStore.abortIncompleteUpload}: the wrapped store's. */
  abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    return this.inner.abortIncompleteUpload(upload);
  }

  /** See {@linkcode ObjectStore.ensureBucket}: the wrapped store's. */
  ensureBucket(): Promise<void> {
    return this.inner.ensureBucket();
  }

  /** One signed GET (retried on network errors and 5xx), body streamed. */
  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const { range, ifMatch, signal } = options;
    let target = this.#targetOf(key); // validates the key
    if (range) checkRange(range, key);
    const where = {
      endpoint: this.#settings.endpoint,
      bucket: this.#settings.bucket,
      key,
      op: "get",
      range,
    };
    const extra: [string, string][] = [];
    if (range) extra.push(["range", rangeHeader(range)]);
    if (ifMatch !== undefined) extra.push(["if-match", `"${ifMatch}"`]);
    const attempts = this.#settings.maxAttempts ?? 3;
    const headersMs = this.#settings.headersTimeoutMs ?? DEFAULT_S3_HEADERS_TIMEOUT_MS;
    const idleMs = this.#settings.idleTimeoutMs ?? DEFAULT_S3_IDLE_TIMEOUT_MS;
    const stalled = () =>
      new DesUnavailableError(`S3 get of ${key} stalled: no body bytes within ${idleMs} ms`, where);
    for (let attempt = 1;; attempt++) {
      this.#settings.onRequest?.({ op: "get", key, ranged: range !== undefined });
      let answer: S3Answer;
      try {
        if (attempt > 1) target = this.#targetOf(key);
        answer = this.#pooled
          ? await this.#sendPooled(this.#pooled, target, extra, signal, stalled)
          : await this.#fetch(target, extra, signal, stalled);
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        const timedOut = error.timedOut && !signal?.aborted;
        if (attempt < attempts && !signal?.aborted && !timedOut) continue;
        // Fetch errors quote the URL, whose signature must not reach a log or a client.
        const why = timedOut
          ? `no response within ${headersMs} ms`
          : redactCredentials((error.cause as Error).message);
        throw new DesUnavailableError(
          `S3 get s3://${where.bucket}/${key} at ${where.endpoint} failed: ${why}`,
          where,
          error.cause,
        );
      }
      if (answer.status >= 200 && answer.status < 300) {
        return await this.#result(key, answer, range !== undefined, where);
      }
      const text = await this.#errorText(answer.body, idleMs);
      if (answer.status >= 500 && attempt < attempts) continue;
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${answer.status}`;
      throw s3Error(
        { name: code, message: text.slice(0, 200), $metadata: { httpStatusCode: answer.status } },
        where,
      );
    }
  }

  /** One GET on a pooled connection; a body up to {@linkcode WHOLE_BODY_LIMIT} comes read. */
  async #sendPooled(
    { pool, origin }: { pool: Http1Pool; origin: Http1Origin },
    target: string,
    headers: [string, string][],
    signal: AbortSignal | undefined,
    stalled: () => Error,
  ): Promise<S3Answer> {
    let answer;
    try {
      answer = await pool.request(origin, {
        method: "GET",
        target,
        headers,
        headersTimeoutMs: this.#settings.headersTimeoutMs ?? DEFAULT_S3_HEADERS_TIMEOUT_MS,
        idleTimeoutMs: this.#settings.idleTimeoutMs ?? DEFAULT_S3_IDLE_TIMEOUT_MS,
        onIdle: stalled,
        signal,
      });
    } catch (cause) {
      if (cause instanceof DesUnavailableError) throw cause;
      throw new AttemptFailure(cause instanceof Http1TimeoutError, cause);
    }
    const fields = answer.headers;
    const header = (name: string) => {
      for (const [n, v] of fields) if (n === name) return v;
      return null;
    };
    return { status: answer.status, header, body: answer.body };
  }

  /** One GET by `fetch`; a body up to {@linkcode WHOLE_BODY_LIMIT} comes read. */
  async #fetch(
    target: string,
    headers: [string, string][],
    signal: AbortSignal | undefined,
    stalled: () => Error,
  ): Promise<S3Answer> {
    const headersMs = this.#settings.headersTimeoutMs ?? DEFAULT_S3_HEADERS_TIMEOUT_MS;
    const abort = new AbortController();
    let timedOut = false;
    const timer = deadline(headersMs, () => {
      timedOut = true;
      abort.abort();
    });
    let response: Response;
    try {
      response = await fetch(this.#origin + target, {
        headers,
        signal: signal ? AbortSignal.any([signal, abort.signal]) : abort.signal,
      });
    } catch (cause) {
      throw new AttemptFailure(timedOut, cause);
    } finally {
      timer.cancel();
    }
    const idleMs = this.#settings.idleTimeoutMs ?? DEFAULT_S3_IDLE_TIMEOUT_MS;
    const header = (name: string) => response.headers.get(name);
    const length = declaredLength(response);
    if (length !== undefined && length <= WHOLE_BODY_LIMIT) {
      const bytes = await bodyWithin(response, idleMs, stalled, () => abort.abort())
        .catch((cause) => {
          // A body cut short is a failed attempt, as on the pool; a stall is final.
          throw cause instanceof DesUnavailableError ? cause : new AttemptFailure(false, cause);
        });
      return { status: response.status, header, body: bytes };
    }
    const body = response.body && idleTimeout(response.body, idleMs, stalled, () => abort.abort());
    return { status: response.status, header, body };
  }

  /** The text of an error answer (empty when it does not come in time). */
  async #errorText(body: S3Answer["body"], idleMs: number): Promise<string> {
    if (body === null) return "";
    if (body instanceof Uint8Array) return new TextDecoder().decode(body);
    const text = new Response(body).text();
    return await withTimeout(text, idleMs, () => new Error("stalled")).catch(() => {
      body.cancel().catch(() => {});
      return "";
    });
  }

  /**
   * The presigned path and query of a GET of `key`, made at most every
   * {@linkcode PRESIGN_REUSE_MS}: the key is validated and its path encoded
   * only then.
   */
  #targetOf(key: string): string {
    const now = Date.now();
    const kept = this.#presigned.get(key);
    if (kept && kept.until > now) return kept.url;
    validateKey(key);
    const path = uriEncodePath(`/${this.#settings.bucket}/${key}`);
    const url = this.#signer.presignGet({
      host: this.#host,
      path,
      date: new Date(now),
      expiresSeconds: PRESIGN_EXPIRES_SECONDS,
    });
    this.#presigned.set(key, { url, until: now + PRESIGN_REUSE_MS });
    return url;
  }

  async #result(
    key: string,
    answer: S3Answer,
    ranged: boolean,
    where: Record<string, unknown>,
  ): Promise<GetResult> {
    const length = Number(answer.header("content-length") ?? 0);
    const contentRange = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answer.header("content-range") ?? "");
    if (ranged && (answer.status !== 206 || !contentRange)) {
      if (answer.body instanceof ReadableStream) await answer.body.cancel();
      throw new DesUnavailableError(`S3 ignored the Range of a get of ${key}`, where);
    }
    const info: ObjectInfo = {
      key,
      size: contentRange ? Number(contentRange[3]) : length,
      etag: (answer.header("etag") ?? "").replace(/^(W\/)?"|"$/g, ""),
      lastModified: new Date(answer.header("last-modified") ?? 0),
    };
    const start = contentRange ? Number(contentRange[1]) : 0;
    const body = answer.body;
    if (!(body instanceof Uint8Array)) return { info, start, length, body: bodyStream(body) };
    // Read whole already: a stream only for a caller that asks for one.
    let stream: ReadableStream<Uint8Array> | undefined;
    return {
      info,
      start,
      length,
      bytes: body,
      get body() {
        return stream ??= bodyStream(body);
      },
    };
  }

  /** Delegated. */
  head(key: string): Promise<ObjectInfo | null> {
    return this.inner.head(key);
  }
  /** Delegated. */
  put(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    options?: PutOptions,
  ): Promise<ObjectInfo> {
    return this.inner.put(key, body, options);
  }
  /** Delegated. */
  createWriter(key: string, options?: PutOptions): Promise<ObjectWriter> {
    return this.inner.createWriter(key, options);
  }
  /** Delegated. */
  list(prefix: string): AsyncIterable<ListedObject> {
    return this.inner.list(prefix);
  }
  /** Delegated. */
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}
