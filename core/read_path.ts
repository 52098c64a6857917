/**
 * Words of the read path that the gateway and the retrievers share: the
 * shape of a `/files/...` path, the methods it answers (the `Allow` header of a
 * 405) and the header that names the retriever that answered.
 *
 * @module
 */

import { DesError, DesNotFoundError } from "./errors.ts";

/** Header naming the retriever that answered. */
export const RETRIEVER_HEADER = "x-des-retriever";

/**
 * Header by which the gateway names the API key of a `DELETE` to the
 * retriever (recorded as the tombstone's actor). Trusted only on a hop that
 * carries the retriever token.
 */
export const CLIENT_HEADER = "x-des-client";

/**
 * Header of a retriever's 5xx whose problem type the gateway may show its
 * client: only `damaged-file` (the name is the client's own, nothing
 * internal is revealed).
 */
export const PROBLEM_HEADER = "x-des-problem";

/** Problem code of a file whose stored copy is damaged (a 502 on every read of it). */
export const DAMAGED_FILE_CODE = "damaged-file";

/** Methods a file answers (DELETE needs the `admin` scope). */
export const FILE_METHODS = "GET, HEAD, DELETE";

/** Methods a file's metadata answers. */
export const META_METHODS = "GET, HEAD";

/** The name in a `/files/...` path and whether `/meta` was asked. */
export interface FilesRoute {
  /** The percent-decoded name. */
  name: string;
  /** `/files/<name>/meta` rather than `/files/<name>`. */
  meta: boolean;
}

const FILES_PATH = /^\/files\/([^/]+)(\/meta)?$/;

/**
 * The name (and whether `/meta` was asked) of a `/files/...` path; 404 for
 * other paths, 400 when the name is not valid percent-encoding.
 *
 * @example
 * ```ts
 * parseFilesPath("/files/abc/meta"); // { name: "abc", meta: true }
 * ```
 */
export function parseFilesPath(pathname: string): FilesRoute {
  const m = FILES_PATH.exec(pathname);
  if (!m) throw new DesNotFoundError(`no route ${pathname}`, { path: pathname });
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    throw new DesError("the name is not valid percent-encoding", {
      code: "bad-input",
      status: 400,
    });
  }
  return { name, meta: m[2] !== undefined };
}
