/**
 * `POST /names` at the gateway: the name assignment endpoint of
 * `naming/names_app.ts` behind the edge (scope `names`, rate limit) with a
 * body cap: a declared or actual body over `MAX_NAMES_BODY_BYTES` is a 413
 * without reading further.
 *
 * @module
 */

import type { Context } from "hono";
import type { NameGenerator } from "../naming/name_generator.ts";
import { namesApp } from "../naming/names_app.ts";
import { DesPayloadTooLargeError } from "./edge_problem.ts";
import type { GatewayEnv } from "./gateway_env.ts";
import { MAX_NAMES_BODY_BYTES } from "./routes.ts";

/** Read at most `limit` bytes of `request`'s body; throws a 413 error beyond. */
export async function readCappedBody(
  request: Request,
  limit: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= limit)) throw new DesPayloadTooLargeError(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new DesPayloadTooLargeError(limit);
      }
      chunks.push(value);
    }
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** The `POST /names` handler for `generator`. */
export function namesHandler(
  generator: NameGenerator,
): (c: Context<GatewayEnv>) => Promise<Response> {
  const app = namesApp(generator);
  return async (c) => {
    const body = await readCappedBody(c.req.raw, MAX_NAMES_BODY_BYTES);
    const url = new URL(c.req.url);
    return await app.fetch(
      new Request(`${url.origin}/names`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      }),
    );
  };
}
