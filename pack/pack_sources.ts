/**
 * The parent sources as the packer uses them: each source's catalog table
 * (checked against its database before anything is written) and its
 * original files.
 *
 * @module
 */

import type { EnvSource } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { openDb } from "../db/open_db.ts";
import { openOriginals, type Originals } from "../parent/originals.ts";
import { ParentTable } from "../parent/parent_table.ts";
import { checkSourceAgainstDb, type ContractNeeds } from "../parent/source_check.ts";
import type { SourceConfig } from "../parent/sources.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** One parent source, ready for packing. */
export interface PackSource {
  /** The validated configuration. */
  config: SourceConfig;
  /** The parent's catalog table. */
  table: ParentTable;
  /** The original files. */
  originals: Originals;
}

/** Sources by name, plus what must be closed when done. */
export interface OpenedSources {
  /** Sources by name. */
  byName: Map<string, PackSource>;
  /** Close parent connections and original stores. */
  close(): Promise<void>;
}

/** Options of {@linkcode openPackSources}. */
export interface OpenPackSourcesOptions {
  /** Where `DES_S3_*` are read for S3 originals. */
  env?: EnvSource;
  /** Logger for the checks. */
  log?: Logger;
  /** Ready stores for S3 originals by bucket (instead of ones built from `DES_S3_*`). */
  originalStores?: Map<string, ObjectStore>;
  /** What DES will write, to check the column types and sizes against (see `column_rules.ts`). */
  needs?: ContractNeeds;
}

/**
 * Open each source's database, check its table and columns (nothing is
 * written), and open its originals. On any failure everything opened so far
 * is closed and the error is thrown.
 */
export async function openPackSources(
  configs: readonly SourceConfig[],
  options: OpenPackSourcesOptions = {},
): Promise<OpenedSources> {
  const dbs: Db[] = [];
  const originals: Originals[] = [];
  const close = async () => {
    for (const o of originals) o.close();
    await Promise.all(dbs.map((db) => db.close().catch(() => {})));
  };
  const byName = new Map<string, PackSource>();
  try {
    for (const config of configs) {
      const db = await openDb(config.dsn, { max: 4, applicationName: "des-packer" });
      dbs.push(db);
      const schema = await checkSourceAgainstDb(db, config, options.needs);
      const store = config.originals.kind === "s3"
        ? options.originalStores?.get(config.originals.bucket)
        : undefined;
      const opened = openOriginals(config, { env: options.env, store });
      originals.push(opened);
      byName.set(config.name, {
        config,
        table: new ParentTable(db, config, schema),
        originals: opened,
      });
      options.log?.info("source checked", { source: config.name, table: config.table });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { byName, close };
}
