/**
 * The name assignment endpoint: `POST /names` with `{"count": n}` returns
 * `{"names": [{"name", "shard"}]}`. Mount it on any Hono app.
 *
 * @module
 */

import { Hono } from "hono";
import { DesError, DesInputError } from "../core/errors.ts";
import { shardOfId } from "./shard_hash.ts";
import { formatName } from "./name_codec.ts";
import type { NameGenerator } from "./name_generator.ts";

/** Most names one `POST /names` request may ask for. */
export const MAX_NAMES_PER_REQUEST = 10_000;

/** One assigned name. */
export interface AssignedName {
  /** The name. */
  name: string;
  /** Its shard. */
  shard: number;
}

async function readCount(request: Request): Promise<number> {
  const text = await request.text();
  if (text.trim() === "") return 1;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DesInputError("request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new DesInputError('request body must be a JSON object like {"count": 10}');
  }
  const count = (body as { count?: unknown }).count ?? 1;
  if (
    typeof count !== "number" || !Number.isInteger(count) || count < 1 ||
    count > MAX_NAMES_PER_REQUEST
  ) {
    throw new DesInputError(`count must be an integer in 1..${MAX_NAMES_PER_REQUEST}`, { count });
  }
  return count;
}

/** A Hono sub-app serving `POST /names` from `generator`. Errors are problem+json. */
export function namesApp(generator: NameGenerator): Hono {
  const app = new Hono();
  app.post("/names", async (c) => {
    const count = await readCount(c.req.raw);
    const names: AssignedName[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const id = generator.nextId();
      names[i] = {
        name: formatName(id, generator.config),
        shard: shardOfId(id, generator.config.shardBits),
      };
    }
    return c.json({ names });
  });
  app.onError((err, c) => {
    const problem = err instanceof DesError
      ? err.toProblem(c.req.path)
      : new DesError("name assignment failed", { code: "internal" }).toProblem(c.req.path);
    return c.body(JSON.stringify(problem), problem.status as 400 | 500, {
      "content-type": "application/problem+json",
    });
  });
  return app;
}
