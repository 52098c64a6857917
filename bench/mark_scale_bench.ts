/**
 * How the marker's batch time grows with the parent table: the same batches
 * (as many rows as the small table has eligible rows for all of them, at
 * most 1,000) on a table of `--small` rows and on one of `--large` rows
 * (default 100,000 and 10,000,000), 1% of the rows eligible in both,
 * plus the plan of the marking statement (`EXPLAIN`), which must reach the
 * rows through the eligible index and the primary key, never a table scan.
 *
 * Needs PostgreSQL (`DES_TEST_DATABASE_URL`). Filling 10 million rows takes
 * minutes on a small machine. Run alone:
 * `deno run -A bench/mark_scale_bench.ts [--small 100000] [--large 10000000] [--batches 10]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Db } from "../db/db.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { ParentSql } from "../parent/parent_sql.ts";
import { ParentTable } from "../parent/parent_table.ts";
import { parseSources } from "../parent/sources.ts";
import { fixtureSourcesYaml, fixtureTableSql } from "../tests/_helpers/parent_fixture.ts";
import { createTestDatabase } from "../tests/_helpers/pg.ts";
import type { Figure } from "./figures.ts";
import { median } from "./stats.ts";

/** Figures of one table size. */
export interface ScalePoint {
  /** Rows in the table. */
  rows: number;
  /** Median milliseconds per batch. */
  batchMs: number;
  /** Whether the plan scans the whole table anywhere. */
  seqScan: boolean;
  /** The plan, one line per node. */
  plan: string[];
}

async function fill(db: Db, table: string, rows: number): Promise<void> {
  await db.exec(fixtureTableSql(table, "bigint"));
  // 1% old enough to be eligible (every 100th row), the rest 5 days old.
  for (let from = 1; from <= rows; from += 1_000_000) {
    await db.query(
      `INSERT INTO ${table} (doc_id, file_path, inserted_on, byte_size, mime)
       SELECT g, 'f/' || g, now() - (CASE WHEN g % 100 = 0 THEN 40 + g % 361 ELSE 5 END)
              * interval '1 day' - (g % 1000) * interval '1 second', 64, 'application/octet-stream'
         FROM generate_series($1::int, $2::int) AS g`,
      [from, Math.min(rows, from + 999_999)],
    );
  }
  await db.query(`VACUUM (ANALYZE) ${table}`);
}

/** Measure one table size. */
export async function measureScale(
  rows: number,
  batches: number,
  batch: number,
): Promise<ScalePoint> {
  const temp = await createTestDatabase({ max: 2 });
  try {
    const db = temp.db;
    await db.exec("CREATE SCHEMA catalog");
    const tableName = "catalog.scale";
    await fill(db, tableName, rows);
    const [source] = parseSources(
      fixtureSourcesYaml({
        table: tableName,
        dsnEnv: "SCALE_DSN",
        maxAgeDays: 30,
        originals: "fs_root: /nonexistent",
      }),
      new Map([["SCALE_DSN", temp.url]]),
    );
    const table = new ParentTable(db, source);
    const names = new NameGenerator({ nodeId: 1, shardBits: 8, prefix: "" });
    const sql = new ParentSql(source, "bigint");
    const planNames = names.nextBatch(batch);
    const plan = await db.transaction(async (tx) => {
      const rowsOut = await tx.query<{ "QUERY PLAN": string }>(
        `EXPLAIN ${sql.markEligible}`,
        [table.cutoff().toISOString(), batch, planNames, planNames.map(() => 0)],
      );
      return rowsOut.map((r) => r["QUERY PLAN"]);
    });
    await table.markBatch({ names, limit: batch }); // warm up
    const ms: number[] = [];
    for (let i = 0; i < batches; i++) {
      const t0 = performance.now();
      const n = await table.markBatch({ names, limit: batch });
      ms.push(performance.now() - t0);
      if (n !== batch) throw new Error(`batch ${i} marked ${n} rows, expected ${batch}`);
    }
    return { rows, batchMs: median(ms), seqScan: plan.some((l) => /Seq Scan/.test(l)), plan };
  } finally {
    await temp.drop();
  }
}

/** Run both sizes and return printable lines. */
export async function runMarkScaleBench(
  options: { small?: number; large?: number; batches?: number } = {},
): Promise<{ lines: string[]; points: ScalePoint[] }> {
  const batches = options.batches ?? 10;
  const small = options.small ?? 100_000;
  const batch = Math.max(1, Math.min(1000, Math.floor(small / 100 / (batches + 1))));
  const points = [
    await measureScale(small, batches, batch),
    await measureScale(options.large ?? 10_000_000, batches, batch),
  ];
  const [a, b] = points;
  const lines = [
    `marker batch of ${batch} rows, 1% of the table eligible, median of ${batches} batches:`,
    ...points.map((p) =>
      `  ${p.rows.toLocaleString("en")} rows: ${p.batchMs.toFixed(1)} ms per batch` +
      (p.seqScan ? " (plan has a Seq Scan!)" : " (index only, no table scan)")
    ),
    `  growth: ${(b.batchMs / a.batchMs).toFixed(2)}× the batch time for ${
      (b.rows / a.rows).toFixed(0)
    }× the rows`,
    "  plan:",
    ...b.plan.map((l) => `    ${l}`),
  ];
  return { lines, points };
}

/** The report lines and the growth figure for the combined table of `deno task bench`. */
export function markScaleFigures(
  result: { lines: string[]; points: ScalePoint[] },
): { lines: string[]; figures: Figure[] } {
  const [small, large] = result.points;
  return {
    lines: result.lines,
    figures: [{
      suite: "mark-scale",
      name: `marker batch time, ${large.rows.toLocaleString("en")} vs ${
        small.rows.toLocaleString("en")
      } rows (1% eligible)${large.seqScan ? ", plan scans the table" : ", index only"}`,
      des: `${large.batchMs.toFixed(1)} ms`,
      baseline: `${small.batchMs.toFixed(1)} ms`,
      ratio: large.batchMs / small.batchMs,
      goal: { op: "<=", value: 2 },
    }],
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      small: { type: "string" },
      large: { type: "string" },
      batches: { type: "string" },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const result = await runMarkScaleBench({
    small: num(values.small),
    large: num(values.large),
    batches: num(values.batches),
  });
  console.log(result.lines.join("\n"));
}
