/**
 * A retriever living in the gateway's own process (`deno task serve`): the
 * request goes to {@linkcode Retriever.handle} with no HTTP hop.
 *
 * @module
 */

import type { Retriever } from "../retriever/retriever.ts";
import type { ShardRange } from "../retriever/shard_range.ts";
import type { ForwardRequest, RetrieverTarget } from "./target.ts";

/** A target backed by an in-process {@linkcode Retriever}. */
export class InProcessRetrieverTarget implements RetrieverTarget {
  /** Always `in-process`. */
  readonly location = "in-process";

  /** @param retriever the retriever to call */
  constructor(private readonly retriever: Retriever) {}

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
