/**
 * Problem responses as the gateway's clients see them: the headers each
 * error status needs (`WWW-Authenticate`, `Retry-After`, `Allow`), a request
 * path cut short in `instance` (a 400 for a very long name must not echo it
 * back), and server-side failures (5xx) reduced to a generic detail: which
 * retriever, bucket or database failed belongs in the logs, not in answers
 * to strangers.
 *
 * @module
 */

import { DesError } from "../core/errors.ts";
import { asDesError, PROBLEM_CONTENT_TYPE } from "../core/problem.ts";
import { DAMAGED_FILE_CODE, FILE_METHODS } from "../core/read_path.ts";
import { DesRateLimitedError } from "./rate_limit.ts";

/** Seconds a client should wait after a 503. */
export const RETRY_AFTER_UNAVAILABLE = "5";

/** Longest request path echoed in a problem's `instance`. */
export const MAX_ECHOED_PATH = 120;

/** A method a file or its metadata does not answer (HTTP 405). */
export class DesMethodNotAllowedError extends DesError {
  /** The methods that are allowed, for the `Allow` header. */
  readonly allow: string;

  /**
   * @param method the method used
   * @param allow the methods allowed there
   */
  constructor(method: string, allow: string = FILE_METHODS) {
    super(`method ${method.slice(0, 16)} is not allowed here; use ${allow}`, {
      code: "method-not-allowed",
      status: 405,
    });
    this.allow = allow;
  }
}

/** A request body over its limit (HTTP 413). */
export class DesPayloadTooLargeError extends DesError {
  /** @param limit the most bytes accepted */
  constructor(limit: number) {
    super(`the request body is larger than ${limit} bytes`, {
      code: "payload-too-large",
      status: 413,
      context: { limit },
    });
  }
}

const GENERIC_DETAIL: Record<number, string> = {
  500: "internal error while serving the request",
  502: "the archive answered with data that failed verification",
  503: "the service is temporarily unavailable; retry later",
  504: "the archive did not answer in time; retry later",
};

/** `path`, cut to {@linkcode MAX_ECHOED_PATH} characters with a marker when longer. */
export function shortPath(path: string): string {
  return path.length <= MAX_ECHOED_PATH ? path : `${path.slice(0, MAX_ECHOED_PATH)}…`;
}

/** The problem+json response for `error` on `path`. */
export function edgeProblem(error: unknown, path: string): Response {
  const e = asDesError(error);
  const headers: Record<string, string> = {
    "content-type": PROBLEM_CONTENT_TYPE,
    "cache-control": "no-store",
  };
  if (e.status === 401) headers["www-authenticate"] = 'Bearer realm="des"';
  if (e.status === 405) {
    headers["allow"] = error instanceof DesMethodNotAllowedError ? error.allow : FILE_METHODS;
  }
  if (error instanceof DesRateLimitedError) {
    headers["retry-after"] = String(error.retryAfterSeconds);
  }
  if (e.status === 503) headers["retry-after"] = RETRY_AFTER_UNAVAILABLE;
  const instance = shortPath(path);
  const problem = e.toProblem(instance);
  const body = e.status >= 500
    ? {
      type: problem.type,
      title: e.status === 500 ? "DesError" : problem.title,
      status: e.status,
      detail: GENERIC_DETAIL[e.status] ?? "server error",
      instance,
    }
    : problem;
  return new Response(JSON.stringify(body), { status: e.status, headers });
}

/** What the client is told of a damaged file (`PROBLEM_HEADER` of the retriever's answer). */
const DAMAGED_FILE_DETAIL = "the file is damaged in storage and is not served until it is repaired";

/**
 * A generic problem answer of `status` for a failed upstream response; with
 * `problem` `damaged-file` (the retriever's `X-DES-Problem`), that type.
 */
export function genericServerProblem(
  status: number,
  path: string,
  retryAfter?: string,
  problem?: string | null,
): Response {
  const damaged = problem === DAMAGED_FILE_CODE;
  const body = {
    type: `https://des.dev/problems/${damaged ? DAMAGED_FILE_CODE : "upstream"}`,
    title: "DesError",
    status,
    detail: damaged ? DAMAGED_FILE_DETAIL : GENERIC_DETAIL[status] ?? "server error",
    instance: shortPath(path),
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": PROBLEM_CONTENT_TYPE,
      "cache-control": "no-store",
      ...(retryAfter ? { "retry-after": retryAfter } : {}),
    },
  });
}
