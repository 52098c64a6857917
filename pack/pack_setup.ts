/**
 * Start-up of the pack and recover commands. Everything is validated before
 * the first write: settings, the sources file, the fault-injection variable,
 * the shard range, the metadata database (reachable), every parent table
 * (columns exist, their types and sizes hold what DES writes) and the
 * archive store settings. Only then are the
 * migrations applied and the archive bucket created when missing.
 *
 * @module
 */

import { type DesConfig, type EnvSource, loadConfig } from "../core/config.ts";
import { Logger, type LogLevel } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { migrate } from "../db/migrate.ts";
import { openDb } from "../db/open_db.ts";
import { parseShardRange } from "../naming/shard_range.ts";
import { loadSources } from "../parent/sources.ts";
import { BucketStores } from "../retriever/bucket_stores.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { type KillPoint, parseKillPoint } from "./fault.ts";
import { type OpenedSources, openPackSources } from "./pack_sources.ts";

/** Everything a pack or recover run needs, opened and checked. */
export interface PackEnvironment {
  /** Validated settings. */
  config: DesConfig;
  /** Logger of the command. */
  logger: Logger;
  /** DES metadata database (migrated). */
  db: Db;
  /** Parent sources. */
  sources: OpenedSources;
  /** Archive store. */
  store: ObjectStore;
  /** Shard range. */
  range: { rangeStart: number; rangeEnd: number };
  /** `DES_FAULT_KILL_AT`, when set. */
  killPoint?: KillPoint;
  /** Close the database, sources and store. */
  close(): Promise<void>;
}

/**
 * The shard range of `--range A-B` (`naming/shard_range.ts`), or the whole
 * range when omitted. Throws `DesConfigError` when it is malformed or
 * outside `DES_SHARD_BITS`.
 */
export function packShardRange(
  raw: string | undefined,
  shardBits: number,
): { rangeStart: number; rangeEnd: number } {
  if (raw === undefined) return { rangeStart: 0, rangeEnd: 2 ** shardBits - 1 };
  const { start, end } = parseShardRange(raw, 2 ** shardBits);
  return { rangeStart: start, rangeEnd: end };
}

/** Validate, open and prepare; see the module documentation for the order. */
export async function openPackEnvironment(
  options: { sourcesPath: string; range?: string; component: string; env: EnvSource },
): Promise<PackEnvironment> {
  const config = loadConfig(options.env);
  const logger = new Logger(options.component, { level: config.logLevel as LogLevel });
  const sourceConfigs = await loadSources(options.sourcesPath, options.env);
  const killPoint = parseKillPoint(options.env.get("DES_FAULT_KILL_AT"));
  const range = packShardRange(options.range, config.shardBits);
  const db = await openDb(config.databaseUrl, {
    max: 6,
    applicationName: `des-${options.component}`,
  });
  let sources: OpenedSources | undefined;
  let buckets: BucketStores | undefined;
  try {
    buckets = BucketStores.fromConfig(config);
    const store = buckets.storeFor(config.archiveBucket);
    sources = await openPackSources(sourceConfigs, {
      env: options.env,
      log: logger,
      needs: { shardBits: config.shardBits, namePrefix: config.namePrefix, archiveUrl: store.url },
    });
    await migrate(db);
    await store.ensureBucket();
    const opened = { sources, buckets };
    return {
      config,
      logger,
      db,
      sources,
      store,
      range,
      killPoint,
      close: async () => {
        opened.buckets.close();
        await opened.sources.close();
        await db.close();
      },
    };
  } catch (error) {
    buckets?.close();
    await sources?.close();
    await db.close().catch(() => {});
    throw error;
  }
}
