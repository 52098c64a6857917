/**
 * `des scrub --report [--json] [--database-url URL]`: what scrubbing has
 * covered and found — containers scrubbed and never scrubbed, the age of the
 * oldest scrub, containers whose last scrub failed, and every damaged file
 * with its state (damaged, repaired, lost). Exit 1 while a file is damaged
 * or lost, or a container's last scrub failed; 0 otherwise.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadConfig } from "../../core/config.ts";
import { type DamagedFile, listDamagedFiles } from "../../db/damaged_files.ts";
import { migrate } from "../../db/migrate.ts";
import { openDb } from "../../db/open_db.ts";
import { type ScrubCoverage, scrubCoverage } from "../../db/scrub_results.ts";
import { writeLine } from "../output.ts";

/** The report as `--json` prints it. */
export interface ScrubReport {
  /** Containers and how scrubs cover them. */
  coverage: ScrubCoverage;
  /** Seconds since the oldest last scrub (null: nothing scrubbed). */
  oldestScrubAgeSeconds: number | null;
  /** Damaged files per state. */
  damagedFiles: { damaged: number; repaired: number; lost: number };
  /** Every damaged copy recorded, oldest first. */
  files: DamagedFile[];
}

/** CLI entry (`args` include `--report`). */
export async function scrubReportCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      report: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      "database-url": { type: "string" },
    },
  });
  const db = await openDb(values["database-url"] ?? loadConfig().databaseUrl, {
    applicationName: "des-scrub-report",
  });
  try {
    await migrate(db);
    const coverage = await scrubCoverage(db);
    const files = await listDamagedFiles(db);
    const count = (state: DamagedFile["state"]) => files.filter((f) => f.state === state).length;
    const report: ScrubReport = {
      coverage,
      oldestScrubAgeSeconds: coverage.oldestScrubAt
        ? Math.round((Date.now() - coverage.oldestScrubAt.getTime()) / 1000)
        : null,
      damagedFiles: { damaged: count("damaged"), repaired: count("repaired"), lost: count("lost") },
      files,
    };
    await writeLine(values.json ? JSON.stringify(report, null, 2) : reportText(report));
    const open = report.damagedFiles.damaged + report.damagedFiles.lost + coverage.failing;
    return open > 0 ? 1 : 0;
  } finally {
    await db.close();
  }
}

/** The report as text. */
export function reportText(r: ScrubReport): string {
  const c = r.coverage;
  const age = r.oldestScrubAgeSeconds === null ? "none yet" : duration(r.oldestScrubAgeSeconds);
  const lines = [
    `containers: ${c.containers} visible, ${c.scrubbed} scrubbed, ${c.neverScrubbed} never scrubbed, ` +
    `${c.failing} failing`,
    `oldest scrub: ${age}`,
    `damaged files: ${r.damagedFiles.damaged} damaged, ${r.damagedFiles.repaired} repaired, ` +
    `${r.damagedFiles.lost} lost`,
  ];
  for (const f of c.failures) {
    lines.push(`  FAILING ${f.containerId} ${f.key}: ${f.error ?? "damaged files"}`);
  }
  for (const f of r.files) {
    const where = f.state === "repaired" ? ` -> ${f.repairedContainerId}` : "";
    lines.push(
      `  ${f.state.toUpperCase()} ${f.name} (shard ${f.shard}, container ${f.containerId}${where}) ` +
        `found ${f.foundAt.toISOString()}: ${f.detail ?? ""}`,
    );
  }
  const lost = r.files.filter((f) => f.state === "lost").map((f) => f.name);
  if (lost.length > 0) {
    lines.push(`lost files (no original left to repair from): ${lost.join(" ")}`);
  }
  return lines.join("\n");
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}
