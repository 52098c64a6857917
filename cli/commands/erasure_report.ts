/**
 * `des erasure-report <name> [--json] [--database-url URL]`: what became
 * of a deleted name — when and by whom it was deleted, which container held
 * its bytes, when the bytes left storage (and how) or that they are still
 * stored awaiting compaction, and when the parent row was purged.
 *
 * Exit status: 0 the name is deleted and its bytes are erased; 1 it is not
 * deleted, or its bytes are still stored; 2 bad usage or a malformed name.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadConfig } from "../../core/config.ts";
import { DesInputError } from "../../core/errors.ts";
import { getContainer } from "../../db/containers.ts";
import { openDb } from "../../db/open_db.ts";
import { getTombstone, type Tombstone } from "../../db/tombstones.ts";
import { parseName } from "../../naming/mod.ts";
import { writeLine } from "../output.ts";
import { ERASURE_REPORT_USAGE } from "./erasure_report_usage.ts";

/** Where the bytes of a deleted name are, as reported. */
export interface ErasureReport {
  /** The name. */
  name: string;
  /** Whether it is deleted (has a tombstone). */
  deleted: boolean;
  /** The tombstone, when deleted. */
  tombstone?: Tombstone;
  /** The container that held the bytes at delete time: its key and state now. */
  container?: { id: string; bucket: string; key: string; state: string } | null;
  /** `erased`, `stored` (awaiting compaction) or `not-deleted`. */
  bytes: "erased" | "stored" | "not-deleted";
}

/** CLI entry. */
export async function erasureReportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" }, "database-url": { type: "string" } },
  });
  if (positionals.length !== 1) throw new DesInputError(`usage: des ${ERASURE_REPORT_USAGE}`);
  const config = loadConfig();
  const name = positionals[0];
  parseName(name, { shardBits: config.shardBits, prefix: config.namePrefix });
  const db = await openDb(values["database-url"] ?? config.databaseUrl, {
    max: 1,
    applicationName: "des-erasure-report",
  });
  let report: ErasureReport;
  try {
    const tombstone = await getTombstone(db, name);
    if (!tombstone) report = { name, deleted: false, bytes: "not-deleted" };
    else {
      const row = tombstone.containerId ? await getContainer(db, tombstone.containerId) : null;
      report = {
        name,
        deleted: true,
        tombstone,
        container: row
          ? { id: row.containerId, bucket: row.bucket, key: row.key, state: row.state }
          : null,
        bytes: tombstone.erasedAt ? "erased" : "stored",
      };
    }
  } finally {
    await db.close();
  }
  await writeLine(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.bytes === "erased" ? 0 : 1;
}

/** The report as text, one fact a line. */
export function formatReport(r: ErasureReport): string {
  const t = r.tombstone;
  if (!t) return `${r.name}: not deleted (no tombstone)`;
  const lines = [
    `name:      ${r.name} (shard ${t.shard})`,
    `deleted:   ${t.deletedAt.toISOString()} by ${t.origin}${t.actor ? ` (${t.actor})` : ""}`,
  ];
  const where = r.container
    ? `container ${r.container.id} (${r.container.bucket}/${r.container.key}, ${r.container.state})`
    : t.containerId
    ? `container ${t.containerId}`
    : undefined;
  lines.push(`held in:   ${where ?? "no container (never packed)"}`);
  if (where) lines.push(`dead bytes: ${t.bytes}`);
  lines.push(
    t.erasedAt
      ? `erased:    ${t.erasedAt.toISOString()} (${t.erasedBy ?? "unknown"})`
      : `erased:    no — still stored in ${where ?? "its container"} (awaiting compaction)`,
  );
  lines.push(`purged:    ${t.purgedAt ? t.purgedAt.toISOString() : "not yet"}`);
  return lines.join("\n");
}
