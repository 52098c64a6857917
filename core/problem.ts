/**
 * RFC 9457 problem+json responses for the read path. A `DesError` renders
 * itself (`toProblem()`); anything else becomes a generic 500 that does not
 * leak internals.
 *
 * @module
 */

import { DesError } from "./errors.ts";

/** Media type of problem details. */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The `DesError` for any thrown value (unknown errors become a 500 `internal`). */
export function asDesError(error: unknown): DesError {
  if (error instanceof DesError) return error;
  return new DesError("internal error while serving the request", {
    code: "internal",
    status: 500,
    cause: error,
  });
}

/**
 * A problem+json response for `error`, with `instance` (the request path)
 * and extra headers such as `Retry-After` or `Content-Range`. Server-side
 * failures (5xx) carry no context members: endpoints and keys stay in the logs.
 */
export function problemResponse(
  error: unknown,
  instance?: string,
  headers: Record<string, string> = {},
): Response {
  const e = asDesError(error);
  const problem = e.toProblem(instance);
  const body = JSON.stringify(
    e.status >= 500
      ? {
        type: problem.type,
        title: problem.title,
        status: problem.status,
        detail: problem.detail,
        instance,
      }
      : problem,
  );
  return new Response(body, {
    status: e.status,
    headers: {
      "content-type": PROBLEM_CONTENT_TYPE,
      "content-length": String(new TextEncoder().encode(body).byteLength),
      "cache-control": "no-store",
      ...headers,
    },
  });
}
