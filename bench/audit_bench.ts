/**
 * Whether the read audit keeps up: rows per second written by the gateway's
 * own audit writer ({@linkcode AuditTrail}) into the day-partitioned
 * `des_read_audit`, on PostgreSQL and on the embedded engine, against the
 * gateway's peak read rate (one row per read). Rows are fed as fast as the
 * writer drains them (never beyond its bound, so none is dropped); the
 * figure is rows written over the wall time until the last one is written.
 *
 * It also reports the CPU µs per audited row of this process
 * (`process.cpuUsage`): recording, batching and, on the embedded engine,
 * the database itself (PGlite runs in the process).
 *
 * Run alone: `deno run -A bench/audit_bench.ts [--rows 50000] [--peak 5000]`.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { maintainAuditPartitions } from "../db/audit_partitions.ts";
import type { Db } from "../db/db.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { createEmbeddedTestDatabase, createTestDatabase } from "../tests/_helpers/pg.ts";
import { count, type Figure } from "./figures.ts";

/**
 * The peak read rate used when no read or serve suite measured one in the
 * same run: the read rate the read audit is sized for (5,000 reads/s, about
 * 430 million rows a day).
 */
export const DOCUMENTED_PEAK_READS_PER_SECOND = 5000;

/** Options of {@linkcode runAuditBench}. */
export interface AuditBenchOptions {
  /** Rows per engine (default 100,000). */
  rows?: number;
  /** Peak read rate to compare with, and where it comes from. */
  peak?: { readsPerSecond: number; source: string };
}

/** One engine's measure. */
export interface AuditEngineResult {
  /** `postgres` or `embedded`. */
  engine: string;
  /** Rows written. */
  rows: number;
  /** Rows per second, fed to written. */
  rowsPerSecond: number;
  /** CPU µs of this process per row. */
  cpuMicrosPerRow: number;
}

const FEED = 500;
const HIGH_WATER = 5000;

/** Feed `rows` audit rows through a writer on `db` as fast as it drains them. */
export async function measureAuditWriter(
  db: Db,
  engine: string,
  rows: number,
): Promise<AuditEngineResult> {
  await maintainAuditPartitions(db, { retentionDays: 0, aheadDays: 1 });
  const audit = new AuditTrail(db, { flushMs: 100 });
  try {
    const at = new Date();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < rows; i += FEED) {
      while (audit.pending > HIGH_WATER) await new Promise((ok) => setTimeout(ok, 1));
      for (let k = i; k < Math.min(rows, i + FEED); k++) {
        audit.record({
          at,
          method: "GET",
          route: "getFile",
          name: `0a-${k.toString(32).padStart(13, "0")}`,
          status: 200,
          bytes: 4096,
          client: "bench",
          traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        });
      }
    }
    while (audit.pending > 0) await audit.flush();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const [{ n }] = await db.query<{ n: number }>(
      "select count(*)::int as n from des_read_audit where client = 'bench'",
    );
    if (n !== rows) throw new Error(`${engine}: ${n} audit rows written of ${rows}`);
    return {
      engine,
      rows,
      rowsPerSecond: rows / seconds,
      cpuMicrosPerRow: (cpu.user + cpu.system) / rows,
    };
  } finally {
    await audit.close();
  }
}

/** Both engines, with their report lines and figures. */
export async function runAuditBench(
  options: AuditBenchOptions = {},
): Promise<{ lines: string[]; figures: Figure[]; results: AuditEngineResult[] }> {
  const rows = options.rows ?? 100_000;
  const peak = options.peak ??
    { readsPerSecond: DOCUMENTED_PEAK_READS_PER_SECOND, source: "documented sizing" };
  const results: AuditEngineResult[] = [];
  for (
    const [engine, create] of [
      ["postgres", createTestDatabase],
      ["embedded", createEmbeddedTestDatabase],
    ] as const
  ) {
    await using t = await create({ migrate: true });
    results.push(await measureAuditWriter(t.db, engine, rows));
  }
  const lines = [
    `read audit writer (gateway/audit.ts) into day partitions, ${count(rows)} rows per engine:`,
    ...results.map((r) =>
      `  ${r.engine}: ${count(r.rowsPerSecond)} rows/s, ${
        r.cpuMicrosPerRow.toFixed(1)
      } µs CPU of this process per row`
    ),
    `  peak read rate compared with: ${count(peak.readsPerSecond)} reads/s (${peak.source})`,
  ];
  const figures = results.map((r): Figure => ({
    suite: "audit",
    name: `read audit rows written, ${r.engine}, vs peak reads (${peak.source})`,
    des: `${Math.round(r.rowsPerSecond)} rows/s`,
    baseline: `${Math.round(peak.readsPerSecond)} reads/s`,
    ratio: r.rowsPerSecond / peak.readsPerSecond,
    goal: { op: ">=", value: 1 },
  }));
  return { lines, figures, results };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rows: { type: "string" }, peak: { type: "string" } },
  });
  const result = await runAuditBench({
    rows: values.rows ? Number(values.rows) : undefined,
    peak: values.peak ? { readsPerSecond: Number(values.peak), source: "--peak" } : undefined,
  });
  console.log(result.lines.join("\n"));
}
