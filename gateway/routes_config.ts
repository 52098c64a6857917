/**
 * Where the gateway's routing table comes from: `configs/retrievers.yaml`
 * (a list of `{id, url, range}`) or the live registrations in
 * `des_retrievers`. Either way the result is validated by
 * {@linkcode RoutingTable.build}: every shard owned exactly once.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { DesConfigError } from "../core/errors.ts";
import type { DbQuery } from "../db/db.ts";
import { liveRetrievers, type RetrieverRecord } from "../db/retriever_records.ts";
import { parseShardRange } from "../naming/shard_range.ts";

/** Default location of the static routing file. */
export const DEFAULT_ROUTES_FILE = "configs/retrievers.yaml";

/**
 * Parse the text of a routes file. Throws `DesConfigError` naming the entry
 * and field that is wrong; coverage is checked later by the routing table.
 */
export function parseRoutesYaml(text: string, source = DEFAULT_ROUTES_FILE): RetrieverRecord[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new DesConfigError(`${source} is not valid YAML: ${(cause as Error).message}`, {
      file: source,
    });
  }
  const list = (doc as { retrievers?: unknown } | null)?.retrievers;
  if (!Array.isArray(list)) {
    throw new DesConfigError(`${source} must have a "retrievers:" list of {id, url, range}`, {
      file: source,
    });
  }
  return list.map((item, i) => {
    const where = `${source} retrievers[${i}]`;
    const entry = (item ?? {}) as Record<string, unknown>;
    const id = entry.id;
    const url = entry.url;
    const range = entry.range;
    if (typeof id !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
      throw new DesConfigError(`${where}: id must be 1-64 of letters, digits, . _ -`, {
        file: source,
      });
    }
    if (typeof url !== "string" || !/^https?:\/\/[^\s/]+/.test(url)) {
      throw new DesConfigError(`${where} (${id}): url must be an http(s) URL`, { file: source });
    }
    if (typeof range !== "string" && typeof range !== "number") {
      throw new DesConfigError(`${where} (${id}): range must be "A-B"`, { file: source });
    }
    return { id, url: url.replace(/\/+$/, ""), range: parseShardRange(String(range)) };
  });
}

/** Read and parse a routes file. */
export async function loadRoutesFile(path: string): Promise<RetrieverRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new DesConfigError(`cannot read the routing file ${path}: ${(cause as Error).message}`, {
      file: path,
    });
  }
  return parseRoutesYaml(text, path);
}

/** Routes from retrievers that sent a heartbeat in the last `maxAgeSeconds` (default 30). */
export function loadRoutesFromDb(db: DbQuery, maxAgeSeconds = 30): Promise<RetrieverRecord[]> {
  return liveRetrievers(db, maxAgeSeconds);
}
