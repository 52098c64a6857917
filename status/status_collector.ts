/**
 * A long-running process's status reader: opens the parent sources on first
 * use (a gateway may start before `sources.yaml` is right, and its page
 * should say so rather than stop the gateway) and collects the report each
 * time it is asked.
 *
 * @module
 */

import type { EnvSource } from "../core/config.ts";
import type { Db } from "../db/db.ts";
import { collectStatus } from "./collect_status.ts";
import { type OpenedStatusSources, openStatusSources } from "./open_status_sources.ts";
import type { StatusReport } from "./status_report.ts";

/** What {@linkcode statusCollector} returns. */
export interface StatusCollector {
  /** Read the report now. */
  collect(): Promise<StatusReport>;
  /** Close the parent connections opened so far. */
  close(): Promise<void>;
}

/** Collect from `db` and the sources of `sourcesPath`, opened once on first use. */
export function statusCollector(
  db: Db,
  sourcesPath: string,
  env: EnvSource,
  shardCount: number,
): StatusCollector {
  let opened: Promise<OpenedStatusSources> | undefined;
  const sources = () => {
    opened ??= openStatusSources(sourcesPath, env).catch((error) => {
      opened = undefined; // try again on the next request
      throw error;
    });
    return opened;
  };
  return {
    collect: async () => collectStatus({ db, sources: (await sources()).sources, shardCount }),
    close: async () => {
      const o = await opened?.catch(() => undefined);
      await o?.close();
    },
  };
}
