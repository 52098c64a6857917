/**
 * `des audit-maintain [--database-url URL] [--retention-days N] [--ahead-days N] [--json]`:
 * one round of read audit partition maintenance (create the day partitions
 * ahead, drop those past the retention), for cron when the gateways' own
 * database role may not create tables. Safe beside running gateways: one
 * maintainer at a time, the others skip.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { auditLifecycleOf, loadConfig, SETTINGS } from "../../core/config.ts";
import { DesInputError } from "../../core/errors.ts";
import { maintainAuditPartitions } from "../../db/audit_partitions.ts";
import { openDb } from "../../db/open_db.ts";

function days(flag: string, raw: string | undefined, parse: (raw: string) => number) {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (e) {
    throw new DesInputError(`--${flag} ${JSON.stringify(raw)}: ${(e as Error).message}`, {
      flag,
    });
  }
}

/** CLI entry. */
export async function auditMaintainCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "database-url": { type: "string" },
      "retention-days": { type: "string" },
      "ahead-days": { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const config = loadConfig();
  const lifecycle = auditLifecycleOf(config);
  const retentionDays = days(
    "retention-days",
    values["retention-days"],
    SETTINGS.auditRetentionDays.parse,
  ) ?? lifecycle.retentionDays;
  const aheadDays = days("ahead-days", values["ahead-days"], SETTINGS.auditPartitionsAhead.parse) ??
    lifecycle.aheadDays;
  const db = await openDb(values["database-url"] ?? config.databaseUrl);
  try {
    const result = await maintainAuditPartitions(db, { retentionDays, aheadDays });
    if (values.json) {
      console.log(JSON.stringify({ retentionDays, aheadDays, ...result }));
    } else if (!result.ran) {
      console.log("another maintainer is at work on the read audit; nothing done");
    } else {
      const list = (names: string[]) => names.length === 0 ? "none" : names.join(", ");
      console.log(
        [
          `read audit in ${db.location} (retention ${
            retentionDays === 0 ? "forever" : `${retentionDays} days`
          }, ${aheadDays} days ahead)`,
          `  created: ${list(result.created)}`,
          `  dropped: ${list(result.dropped)}`,
          `  rows moved from the default partition: ${result.movedRows}`,
          `  expired rows deleted from the default partition: ${result.deletedDefaultRows}`,
        ].join("\n"),
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}
