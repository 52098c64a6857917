/**
 * The routing seam of the gateway: a {@linkcode RetrieverTarget} serves the
 * `/files` requests of one shard range, over HTTP or in-process (as
 * `deno task serve` does, with no HTTP hop).
 *
 * @module
 */

import type { HeaderSource } from "../core/http_range.ts";
import type { TraceContext } from "../core/trace.ts";
import type { ShardRange } from "../naming/shard_range.ts";

/** What the gateway hands to a target along with the request. */
export interface ForwardRequest {
  /** `GET`, `HEAD` or (admin) `DELETE`. */
  method: "GET" | "HEAD" | "DELETE";
  /** Path and query, e.g. `/files/<name>` or `/files/<name>/meta`. */
  path: string;
  /**
   * Header fields to send, names lower-case (already filtered; carries
   * `traceparent`); the target may add to them.
   */
  headers: [string, string][];
  /** The gateway's span; the target's work is its child. */
  trace: TraceContext;
  /** Authenticated client, if any. */
  clientId?: string;
  /**
   * Aborts the request. The gateway passes none: a client that goes away
   * cancels the response body, which cancels the retriever's body in turn.
   */
  signal?: AbortSignal;
}

/**
 * How the gateway wants a response dressed (its edge headers and
 * `X-DES-Retriever`), so a target in the same process builds the headers
 * once. `decorate` is idempotent.
 */
export interface ResponseStyle {
  /** Add or rewrite the gateway's headers. */
  decorate(headers: Headers): void;
}

/** A `GET|HEAD /files/{name}` already parsed and authorized by the gateway. */
export interface FileReadRequest {
  /** `GET` or `HEAD`. */
  method: "GET" | "HEAD";
  /** The percent-decoded name. */
  name: string;
  /** Its shard. */
  shard: number;
  /** The request path, for problem instances and logs. */
  path: string;
  /** The request's headers as the retriever may see them (the forwarded allow list). */
  headers: HeaderSource;
  /** The gateway's span. */
  trace: TraceContext;
  /** Authenticated client, if any. */
  clientId?: string;
  /** How to dress every response. */
  style: ResponseStyle;
}

/** A retriever as the gateway sees it. */
export interface RetrieverTarget {
  /** Retriever id, expected in `X-DES-Retriever`. */
  readonly id: string;
  /** Shards it owns. */
  readonly range: ShardRange;
  /** Where it is, for messages (`http://…` or `in-process`). */
  readonly location: string;
  /**
   * Send the request and return the retriever's response, its body unread
   * or (when small) read, and its headers the caller's to change. Throws
   * `DesUnavailableError` when the retriever does not answer or is not the
   * expected one; never returns another retriever's answer.
   */
  forward(request: ForwardRequest): Promise<Response>;
  /**
   * A target in the same process may answer a file read without a
   * `Request`, and a hot one without a promise. The response is final:
   * dressed by `request.style`, 5xx not yet made generic. Throws
   * `DesUnavailableError` like `forward`.
   */
  read?(request: FileReadRequest): Response | Promise<Response>;
  /** `"ok"` when the retriever is ready, otherwise what is wrong. */
  ready(): Promise<string>;
}
