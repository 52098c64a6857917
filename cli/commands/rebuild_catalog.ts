/**
 * `des rebuild-catalog [--dry-run] [--prefix p] [--bucket b] [--concurrency n] [--json]`:
 * rebuild the container catalog from the archive bucket (docs/disaster-recovery.md).
 * Exit 0 when every container object is catalogued and agrees with its row,
 * 1 when some object is invalid, unreadable or disagrees with its row.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type EnvSource, loadConfig } from "../../core/config.ts";
import { DesConfigError, type DesError, DesInputError } from "../../core/errors.ts";
import { Progress } from "../../core/progress.ts";
import type { Db } from "../../db/db.ts";
import { migrate, schemaVersion } from "../../db/migrate.ts";
import { openDb } from "../../db/open_db.ts";
import { ensureShards } from "../../db/shards.ts";
import {
  rebuildCatalog,
  type RebuildOutcome,
  type RebuildReport,
} from "../../pack/rebuild_catalog.ts";
import { BucketStores } from "../../retriever/bucket_stores.ts";
import { REBUILD_CATALOG_USAGE } from "./rebuild_catalog_usage.ts";
import { writeLine } from "../output.ts";

export { REBUILD_CATALOG_USAGE } from "./rebuild_catalog_usage.ts";

/** CLI entry; `env` defaults to the process environment. */
export async function rebuildCatalogCommand(
  args: string[],
  env: EnvSource = Deno.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      "dry-run": { type: "boolean", default: false },
      prefix: { type: "string", default: "" },
      bucket: { type: "string" },
      concurrency: { type: "string", default: "8" },
      json: { type: "boolean", default: false },
    },
  });
  const concurrency = Number(values.concurrency);
  if (!/^\d+$/.test(values.concurrency) || concurrency < 1 || concurrency > 256) {
    throw new DesInputError(`--concurrency must be 1..256; usage: des ${REBUILD_CATALOG_USAGE}`, {
      concurrency: values.concurrency,
    });
  }
  const config = loadConfig(env);
  const bucketName = values.bucket ?? config.archiveBucket;
  const dryRun = values["dry-run"];
  const db = await openDb(config.databaseUrl, { max: 4, applicationName: "des-rebuild-catalog" });
  const stores = BucketStores.fromConfig(config);
  try {
    await prepareDatabase(db, dryRun, config.shardBits);
    const progress = new Progress("containers");
    const report = await rebuildCatalog({
      db,
      store: stores.storeFor(bucketName),
      bucketName,
      prefix: values.prefix,
      dryRun,
      concurrency,
      shardCount: 2 ** config.shardBits,
      onOutcome: (outcome) => {
        progress.tick(1, outcome.kind === "added" ? outcome.container.size : 0);
        if (!values.json) printProblem(outcome);
      },
    });
    progress.done();
    const summary = `${dryRun ? "dry run" : "rebuilt"} in ${progress.elapsed.toFixed(2)} s: ${
      summaryOf(report)
    }`;
    await writeLine(values.json ? JSON.stringify(reportAsJson(report), null, 2) : summary);
    const bad = report.invalid.length + report.unreadable.length + report.mismatched.length;
    return bad === 0 ? 0 : 1;
  } finally {
    stores.close();
    await db.close();
  }
}

/** Migrate and create the shard rows; a dry run only checks that the schema exists. */
async function prepareDatabase(db: Db, dryRun: boolean, shardBits: number): Promise<void> {
  if (dryRun) {
    if (await schemaVersion(db) === 0) {
      throw new DesConfigError(
        `the metadata DB at ${db.location} has no DES schema; run des migrate first, or rebuild without --dry-run (it migrates)`,
        { database: db.location },
      );
    }
    return;
  }
  await migrate(db);
  await ensureShards(db, shardBits);
}

function summaryOf(r: RebuildReport): string {
  return [
    `${r.listed} containers listed`,
    `${r.added} ${r.dryRun ? "would be added" : "added"} (${r.addedFiles} files)`,
    `${r.unchanged} unchanged`,
    `${r.unfinished.length} unfinished`,
    `${r.mismatched.length} mismatched`,
    `${r.invalid.length} invalid`,
    `${r.unreadable.length} unreadable`,
    `${r.ignored} other objects ignored`,
  ].join(", ");
}

function printProblem(outcome: RebuildOutcome): void {
  switch (outcome.kind) {
    case "mismatch": {
      const fields = outcome.differences.map((d) =>
        `${d.field}: catalog ${JSON.stringify(d.catalog)}, bucket ${JSON.stringify(d.bucket)}`
      );
      console.error(`MISMATCH ${outcome.key} (${outcome.containerId}): ${fields.join("; ")}`);
      break;
    }
    case "invalid":
    case "unreadable":
      console.error(
        `${outcome.kind.toUpperCase()} ${outcome.key}: [${outcome.error.code}] ${outcome.error.message}`,
      );
      break;
    case "unfinished":
      console.error(
        `UNFINISHED ${outcome.key} (${outcome.containerId}): state ${outcome.state}; des recover finishes it`,
      );
      break;
  }
}

function errorAsJson(error: DesError): Record<string, unknown> {
  return { code: error.code, message: error.message, context: error.context };
}

/** The report with its errors as plain objects. */
function reportAsJson(r: RebuildReport): Record<string, unknown> {
  return {
    ...r,
    invalid: r.invalid.map((o) => ({ key: o.key, error: errorAsJson(o.error) })),
    unreadable: r.unreadable.map((o) => ({ key: o.key, error: errorAsJson(o.error) })),
  };
}
