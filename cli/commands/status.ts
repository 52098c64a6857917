/**
 * `des status [--json]`: the state of the whole archive on the command line
 * — retrievers and their heartbeats, containers per shard, backlog per
 * source and its trend, leases, dead-lettered rows, recent errors. Exit 1
 * when something needs attention (a dead retriever, an expired lease with
 * work left, dead-lettered rows, a growing backlog), 0 otherwise.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadConfig, parseDuration } from "../../core/config.ts";
import { DesInputError } from "../../core/errors.ts";
import { migrate } from "../../db/migrate.ts";
import { openDb } from "../../db/open_db.ts";
import { collectStatus } from "../../status/collect_status.ts";
import { openStatusSources } from "../../status/open_status_sources.ts";
import type { StatusReport } from "../../status/status_report.ts";
import { writeLine } from "../output.ts";

/** CLI entry: prints the status; 1 when something needs attention. */
export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: "boolean", default: false },
      sources: { type: "string", default: "configs/sources.yaml" },
      "trend-window": { type: "string", default: "1h" },
      "database-url": { type: "string" },
    },
  });
  let trendWindowMs: number;
  try {
    trendWindowMs = parseDuration(values["trend-window"]);
  } catch (e) {
    throw new DesInputError(`--trend-window ${values["trend-window"]}: ${(e as Error).message}`);
  }
  const config = loadConfig();
  const db = await openDb(values["database-url"] ?? config.databaseUrl, {
    applicationName: "des-status",
  });
  try {
    await migrate(db);
    const opened = await openStatusSources(values.sources, Deno.env);
    try {
      const report = await collectStatus({
        db,
        sources: opened.sources,
        shardCount: 2 ** config.shardBits,
        trendWindowMs,
      });
      await writeLine(values.json ? JSON.stringify(report, null, 2) : statusText(report));
      return report.attention.length > 0 ? 1 : 0;
    } finally {
      await opened.close();
    }
  } finally {
    await db.close();
  }
}

const iso = (d: Date | null) => d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "-";

/** The report as aligned text for a terminal. */
export function statusText(r: StatusReport): string {
  const lines: string[] = [];
  const section = (title: string) => lines.push("", title);
  lines.push(`DES status at ${iso(r.at)} — ${r.database}, ${r.shardCount} shards`);
  section("Needs attention");
  if (r.attention.length === 0) lines.push("  nothing");
  for (const a of r.attention) lines.push(`  ! ${a.kind}: ${a.message}`);
  section("Retrievers");
  if (r.retrievers.length === 0) lines.push("  none registered (in-process or routes from a file)");
  for (const x of r.retrievers) {
    lines.push(
      `  ${x.alive ? "up  " : "DEAD"} ${x.id} shards ${x.rangeStart}-${x.rangeEnd} ${x.url} ` +
        `(heartbeat ${Math.round(x.heartbeatAgeSeconds)} s ago)`,
    );
  }
  section("Backlog per source (marked, not yet packed)");
  for (const s of r.sources) {
    const trend = s.markedBefore === null
      ? "no earlier sample yet"
      : `${s.marked - s.markedBefore >= 0 ? "+" : ""}${s.marked - s.markedBefore} since ${
        iso(s.markedBeforeAt)
      }`;
    lines.push(
      `  ${s.source}: ${s.marked} marked (${trend}); ${s.eligible} eligible, ${s.packed} packed, ` +
        `${s.failed} dead-lettered`,
    );
  }
  section("Containers");
  const total = r.shards.reduce(
    (t, s) => ({ c: t.c + s.containers, f: t.f + s.files, b: t.b + s.bytes }),
    { c: 0, f: 0, b: 0 },
  );
  lines.push(
    `  ${total.c} containers, ${total.f} files, ${total.b} bytes in ${r.shards.length} shards`,
  );
  for (const s of r.shards) {
    lines.push(
      `  shard ${s.shard}: ${s.containers} containers, ${s.files} files, ${s.bytes} bytes`,
    );
  }
  section("Leases");
  if (r.leases.length === 0) lines.push("  none held");
  for (const l of r.leases) {
    lines.push(
      `  shard ${l.shard}: ${l.owner} since ${iso(l.since)}, ${l.expired ? "EXPIRED" : "expires"} ${
        iso(l.expiresAt)
      }, ${l.workLeft} marked rows left`,
    );
  }
  section("Dead-lettered rows (latest)");
  if (r.deadLetters.length === 0) lines.push("  none");
  for (const d of r.deadLetters) {
    lines.push(`  ${d.source} #${d.id} ${d.location}: ${d.reason ?? "(no reason recorded)"}`);
  }
  section("Errors (last 24 h)");
  if (r.recentErrors.length === 0) lines.push("  none");
  for (const e of r.recentErrors) {
    lines.push(`  ${iso(e.at)} ${e.kind} shard ${e.shard}: ${e.error}`);
  }
  return lines.join("\n");
}
