/**
 * Open the parent sources of `configs/sources.yaml` for reading their
 * status (one connection pool each, read-only queries).
 *
 * @module
 */

import type { EnvSource } from "../core/config.ts";
import type { Db } from "../db/db.ts";
import { openDb } from "../db/open_db.ts";
import { loadSources } from "../parent/sources.ts";
import type { StatusSource } from "./parent_facts.ts";

/** Opened sources and what closes them. */
export interface OpenedStatusSources {
  /** The sources, in file order. */
  sources: StatusSource[];
  /** Close every connection. */
  close(): Promise<void>;
}

/** Load and open every source of `path`; on failure, what was opened is closed. */
export async function openStatusSources(
  path: string,
  env: EnvSource,
): Promise<OpenedStatusSources> {
  const configs = await loadSources(path, env);
  const dbs: Db[] = [];
  const close = async () => {
    await Promise.all(dbs.map((db) => db.close().catch(() => {})));
  };
  try {
    const sources: StatusSource[] = [];
    for (const config of configs) {
      const db = await openDb(config.dsn, { max: 2, applicationName: "des-status" });
      dbs.push(db);
      sources.push({ config, db });
    }
    return { sources, close };
  } catch (error) {
    await close();
    throw error;
  }
}
