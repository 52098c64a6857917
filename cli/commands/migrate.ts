/**
 * `des migrate [--database-url URL]`: apply the metadata DB migrations
 * (idempotent; safe when several processes run it at once).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadConfig } from "../../core/config.ts";
import { migrate } from "../../db/migrate.ts";
import { openDb } from "../../db/open_db.ts";

/** CLI entry. */
export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "database-url": { type: "string" } } });
  const url = values["database-url"] ?? loadConfig().databaseUrl;
  const db = await openDb(url);
  try {
    const { applied, version } = await migrate(db);
    console.log(
      applied.length === 0
        ? `metadata DB ${db.location} is up to date (schema version ${version})`
        : `metadata DB ${db.location}: applied ${applied.join(", ")} (schema version ${version})`,
    );
    return 0;
  } finally {
    await db.close();
  }
}
