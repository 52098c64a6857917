/**
 * A retriever living in the gateway's own process (`deno task serve`,
 * `gateway --in-process`): the request goes to {@linkcode LocalRetriever.handle}
 * with no HTTP hop. The call is bounded like the HTTP hop: no answer within
 * `timeoutMs` is a `DesUnavailableError` (503 with `Retry-After`), and so is
 * a readiness check that does not finish within `readyTimeoutMs`.
 *
 * @module
 */

import { DesUnavailableError } from "../core/errors.ts";
import { withTimeout } from "../core/timeouts.ts";
import type { TraceContext } from "../core/trace.ts";
import type { ShardRange } from "../naming/shard_range.ts";
import type { FileReadRequest, ForwardRequest, RetrieverTarget } from "./target.ts";

/**
 * What the gateway needs of a retriever in its own process; the retriever
 * satisfies it structurally.
 */
export interface LocalRetriever {
  /** Retriever id. */
  readonly id: string;
  /** Shards it serves. */
  readonly range: ShardRange;
  /** Answer one `/files/...` request. */
  handle(request: Request, context: { trace?: TraceContext; clientId?: string }): Promise<Response>;
  /** Answer one parsed file read (a hot one at once, without a promise). */
  read(request: FileReadRequest): Response | Promise<Response>;
  /** Readiness: whether it is ready and, per check, `ok` or what failed. */
  ready(): Promise<{ ready: boolean; checks: Record<string, string> }>;
}

/** Options of {@linkcode InProcessRetrieverTarget}. */
export interface InProcessTargetOptions {
  /** Milliseconds to wait for the retriever's response (default 10 000). */
  timeoutMs?: number;
  /** Milliseconds to wait for its readiness (default 3 000). */
  readyTimeoutMs?: number;
}

/** A target backed by an in-process {@linkcode LocalRetriever}. */
export class InProcessRetrieverTarget implements RetrieverTarget {
  /** Always `in-process`. */
  readonly location = "in-process";
  readonly #timeoutMs: number;
  readonly #readyTimeoutMs: number;

  /** @param retriever the retriever to call @param options timeouts */
  constructor(private readonly retriever: LocalRetriever, options: InProcessTargetOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 3_000;
  }

  /** The retriever's id. */
  get id(): string {
    return this.retriever.id;
  }

  /** The retriever's shards. */
  get range(): ShardRange {
    return this.retriever.range;
  }

  /** Call the retriever directly; aborted and unavailable after the timeout. */
  forward(request: ForwardRequest): Promise<Response> {
    const abort = new AbortController();
    const req = new Request(`http://in-process${request.path}`, {
      method: request.method,
      headers: request.headers,
      signal: request.signal ? AbortSignal.any([request.signal, abort.signal]) : abort.signal,
    });
    const answer = this.retriever.handle(req, {
      trace: request.trace,
      clientId: request.clientId,
    });
    return withTimeout(answer, this.#timeoutMs, () => {
      abort.abort();
      return this.#late(answer);
    });
  }

  /**
   * Hand a parsed read to the retriever: a hot file is answered at once;
   * otherwise the answer is bounded like {@linkcode forward} (the body of a
   * late answer is cancelled).
   */
  read(request: FileReadRequest): Response | Promise<Response> {
    const answer = this.retriever.read(request);
    if (answer instanceof Response) return answer;
    return withTimeout(answer, this.#timeoutMs, () => this.#late(answer));
  }

  /** The error of an answer past the timeout, which is dropped: its body must not stay open. */
  #late(answer: Promise<Response>): DesUnavailableError {
    answer.then((res) => res.body?.cancel().catch(() => {}), () => {});
    return new DesUnavailableError(
      `retriever ${this.id} did not answer within ${this.#timeoutMs} ms`,
      { retriever: this.id },
    );
  }

  /** The retriever's readiness, or what did not answer in time. */
  async ready(): Promise<string> {
    try {
      const r = await withTimeout(
        this.retriever.ready(),
        this.#readyTimeoutMs,
        () => new Error(`readiness did not answer within ${this.#readyTimeoutMs} ms`),
      );
      return r.ready ? "ok" : JSON.stringify(r.checks);
    } catch (error) {
      return (error as Error).message;
    }
  }
}
