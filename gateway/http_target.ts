/**
 * A retriever reached over HTTP. Requests reuse keep-alive connections; a
 * retriever that does not answer within the timeout, answers for another
 * id, or says the shard is not its own (421) is reported as unavailable, so
 * the gateway answers 503 instead of a wrong file.
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import { RETRIEVER_HEADER } from "../core/read_path.ts";
import type { ShardRange } from "../naming/shard_range.ts";
import type { ForwardRequest, RetrieverTarget } from "./target.ts";

/** Options of {@linkcode HttpRetrieverTarget}. */
export interface HttpTargetOptions {
  /** Milliseconds to wait for response headers (default 10 000). */
  timeoutMs?: number;
  /** HTTP client (e.g. one trusting a private CA). */
  client?: Deno.HttpClient;
}

/** A retriever behind a base URL. */
export class HttpRetrieverTarget implements RetrieverTarget {
  /** Base URL without a trailing slash. */
  readonly location: string;
  readonly #timeoutMs: number;
  readonly #client?: Deno.HttpClient;

  /**
   * @param id expected retriever id
   * @param url base URL, e.g. `http://10.0.0.5:8101`
   * @param range shards it owns
   * @param options timeout and HTTP client
   */
  constructor(
    readonly id: string,
    url: string,
    readonly range: ShardRange,
    options: HttpTargetOptions = {},
  ) {
    this.location = url.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#client = options.client;
  }

  /** Forward one request; the body streams through unread. */
  async forward(request: ForwardRequest): Promise<Response> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.#timeoutMs);
    const signal = request.signal
      ? AbortSignal.any([request.signal, timeout.signal])
      : timeout.signal;
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
        timeout.signal.aborted ? `did not answer within ${this.#timeoutMs} ms` : "is not reachable",
        cause,
      );
    } finally {
      clearTimeout(timer);
    }
    const answeredBy = response.headers.get(RETRIEVER_HEADER);
    if (answeredBy !== this.id || response.status === 421) {
      await response.body?.cancel().catch(() => {});
      throw this.#unavailable(
        answeredBy !== this.id
          ? `answered as ${JSON.stringify(answeredBy)} instead of ${this.id}`
          : "does not own the shard (421)",
      );
    }
    return response;
  }

  /** `GET /readyz` of the retriever (2 s timeout). */
  async ready(): Promise<string> {
    try {
      const res = await fetch(`${this.location}/readyz`, {
        signal: AbortSignal.timeout(2000),
        client: this.#client,
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

  #unavailable(what: string, cause?: unknown): DesUnavailableError {
    return new DesUnavailableError(
      `retriever ${this.id} for shards ${this.range.start}-${this.range.end} ${what}`,
      { retriever: this.id },
      cause,
    );
  }
}
