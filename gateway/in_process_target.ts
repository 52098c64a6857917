/**
 * A retriever living in the gateway's own process (`deno task serve`): the
 * request goes to {@linkcode LocalRetriever.handle} with no HTTP hop.
 *
 * @module
 */

import type { TraceContext } from "../core/trace.ts";
import type { ShardRange } from "../naming/shard_range.ts";
import type { ForwardRequest, RetrieverTarget } from "./target.ts";

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
  /** Readiness: whether it is ready and, per check, `ok` or what failed. */
  ready(): Promise<{ ready: boolean; checks: Record<string, string> }>;
}

/** A target backed by an in-process {@linkcode LocalRetriever}. */
export class InProcessRetrieverTarget implements RetrieverTarget {
  /** Always `in-process`. */
  readonly location = "in-process";

  /** @param retriever the retriever to call */
  constructor(private readonly retriever: LocalRetriever) {}

  /** The retriever's id. */
  get id(): string {
    return this.retriever.id;
  }

  /** The retriever's shards. */
  get range(): ShardRange {
    return this.retriever.range;
  }

  /** Call the retriever directly. */
  forward(request: ForwardRequest): Promise<Response> {
    const req = new Request(`http://in-process${request.path}`, {
      method: request.method,
      headers: request.headers,
      signal: request.signal,
    });
    return this.retriever.handle(req, { trace: request.trace, clientId: request.clientId });
  }

  /** The retriever's readiness. */
  async ready(): Promise<string> {
    const r = await this.retriever.ready();
    return r.ready ? "ok" : JSON.stringify(r.checks);
  }
}
