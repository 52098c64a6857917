/**
 * The byte length of a response's body, known to whoever built the
 * response, without reading `Response.headers`: on Deno, reading a
 * response's headers turns its native, ready-to-send form back into a
 * `Headers` object, which the server then has to convert again. The hot
 * read path notes the length when it builds a response; anything else
 * falls back to the `Content-Length` header.
 *
 * @module
 */

const lengths = new WeakMap<Response, number>();

/** Note that `response`'s body is `bytes` long (its `Content-Length`). */
export function noteBodyLength(response: Response, bytes: number): Response {
  lengths.set(response, bytes);
  return response;
}

/** The noted body length of `response`, else its `Content-Length` (0 without one). */
export function bodyLength(response: Response): number {
  return lengths.get(response) ?? Number(response.headers.get("content-length") ?? 0);
}
