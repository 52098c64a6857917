/**
 * Marker benchmark: `Marker.runOnce` (batches of `DES_MARKER_BATCH_SIZE`,
 * `FOR UPDATE SKIP LOCKED`, names made in TypeScript and sent as one array, one statement
 * per batch) against one hand-written set-based `UPDATE` that marks
 * the same rows with names computed in SQL, on two identical tables of the
 * same database, alternating which goes first.
 *
 * The marker runs with its default of 3 batches in flight; besides wall
 * time, the CPU seconds of this process plus the database backends are
 * reported, which is the fairer figure on a shared machine.
 *
 * Run alone:
 * `deno run -A bench/mark_bench.ts [--rows 200000] [--rounds 3] [--batch 5000] [--concurrency 3]`.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { Marker } from "../mark/marker.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { ParentTable } from "../parent/parent_table.ts";
import { parseSources } from "../parent/sources.ts";
import { fixtureSourcesYaml, fixtureTableSql } from "../tests/_helpers/parent_fixture.ts";
import { createTestDatabase } from "../tests/_helpers/pg.ts";
import { median, ratio, timeIt } from "./stats.ts";

/** Figures produced by {@linkcode runMarkBench}. */
export interface MarkBenchResult {
  /** Lines for the report. */
  lines: string[];
  /** Median rows/s of the marker. */
  markerRowsPerSecond: number;
  /** Median rows/s of the hand-written UPDATE. */
  sqlRowsPerSecond: number;
}

const MARKER_TABLE = "catalog.bench_marker";
const SQL_TABLE = "catalog.bench_sql";

/** The hand-written marking: shard and name derived from a hash of the id, in SQL. */
const HAND_WRITTEN_UPDATE = `
  UPDATE ${SQL_TABLE} AS p
     SET state = 'queued', archive_shard = h.shard,
         archive_name = lpad(to_hex(h.shard), 2, '0') || '-' || lpad(p.doc_id::text, 13, '0')
    FROM (SELECT doc_id, hashtext(doc_id::text) & 255 AS shard FROM ${SQL_TABLE}
           WHERE state = 'live' AND inserted_on < now() - interval '30 days'
             AND (tenant <> 'legal-hold')) AS h
   WHERE p.doc_id = h.doc_id`;

async function fill(db: Db, table: string, rows: number): Promise<void> {
  await db.exec(fixtureTableSql(table, "bigint"));
  await db.query(
    `INSERT INTO ${table} (doc_id, file_path, inserted_on, byte_size, mime)
     SELECT g, lpad((g % 97)::text, 2, '0') || '/' || g || '.bin',
            now() - (40 + g % 361) * interval '1 day' - (g % 1000) * interval '1 second',
            64 + g % 2000, 'application/octet-stream'
       FROM generate_series(1, $1::int) AS g`,
    [rows],
  );
}

async function reset(db: Db, table: string): Promise<void> {
  await db.query(
    `UPDATE ${table} SET state = 'live', archive_name = NULL, archive_shard = NULL
      WHERE state <> 'live'`,
  );
  await db.query(`VACUUM (ANALYZE) ${table}`);
}

/** CPU seconds used so far by this process and by every backend of the bench database. */
async function cpuSeconds(db: Db): Promise<{ client: number; server: Map<number, number> }> {
  const pids = await db.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
  );
  const server = new Map<number, number>();
  for (const { pid } of pids) {
    try {
      const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
      server.set(pid, (Number(fields[11]) + Number(fields[12])) / 100); // utime + stime, ticks
    } catch { /* not on this machine, or gone */ }
  }
  const usage = cpuUsage();
  return { client: (usage.user + usage.system) / 1e6, server };
}

/** Time `fn` in wall milliseconds and in CPU seconds of this process plus the database. */
async function measure(db: Db, fn: () => Promise<unknown>): Promise<{ ms: number; cpu: number }> {
  const before = await cpuSeconds(db);
  const ms = await timeIt(fn);
  const after = await cpuSeconds(db);
  let server = 0;
  for (const [pid, s] of after.server) server += s - (before.server.get(pid) ?? 0);
  return { ms, cpu: after.client - before.client + server };
}

async function countQueued(db: Db, table: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE state = 'queued'`,
  );
  return row.n;
}

/** Run the marker benchmark and return printable lines and the medians. */
export async function runMarkBench(
  options: { rows?: number; rounds?: number; batch?: number; concurrency?: number } = {},
): Promise<MarkBenchResult> {
  const rows = options.rows ?? 200_000;
  const rounds = options.rounds ?? 3;
  const batch = options.batch ?? 5_000;
  const concurrency = options.concurrency ?? 3;
  const temp = await createTestDatabase({ max: concurrency + 1 });
  const db = temp.db;
  try {
    await db.exec("CREATE SCHEMA catalog");
    await fill(db, MARKER_TABLE, rows);
    await fill(db, SQL_TABLE, rows);
    const [source] = parseSources(
      fixtureSourcesYaml({
        table: MARKER_TABLE,
        dsnEnv: "BENCH_DSN",
        maxAgeDays: 30,
        originals: "fs_root: /nonexistent",
      }),
      new Map([["BENCH_DSN", temp.url]]),
    );
    const table = new ParentTable(db, source);
    const names = new NameGenerator({ nodeId: 1, shardBits: 8, prefix: "" });
    const logger = new Logger("marker", { level: "error", sink: () => {} });
    const markerMs: number[] = [];
    const sqlMs: number[] = [];
    const markerCpu: number[] = [];
    const sqlCpu: number[] = [];
    const runMarker = async () => {
      await reset(db, MARKER_TABLE);
      const marker = new Marker({ table, names, batchSize: batch, concurrency, logger });
      const m = await measure(db, () => marker.runOnce());
      markerMs.push(m.ms);
      markerCpu.push(m.cpu);
      const marked = await countQueued(db, MARKER_TABLE);
      if (marked !== rows) throw new Error(`marker marked ${marked} of ${rows} rows`);
    };
    const runSql = async () => {
      await reset(db, SQL_TABLE);
      const m = await measure(db, () => db.query(HAND_WRITTEN_UPDATE));
      sqlMs.push(m.ms);
      sqlCpu.push(m.cpu);
      const marked = await countQueued(db, SQL_TABLE);
      if (marked !== rows) throw new Error(`hand-written UPDATE marked ${marked} of ${rows} rows`);
    };
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        await runMarker();
        await runSql();
      } else {
        await runSql();
        await runMarker();
      }
    }
    const markerRate = rows / (median(markerMs) / 1000);
    const sqlRate = rows / (median(sqlMs) / 1000);
    const fmt = (ms: number[]) => ms.map((m) => Math.round(m)).join(", ");
    const cpu = (s: number[]) => `${median(s).toFixed(2)} CPU s`;
    return {
      markerRowsPerSecond: markerRate,
      sqlRowsPerSecond: sqlRate,
      lines: [
        `marking ${rows} eligible rows, ${rounds} alternating rounds, batch ${batch}, ${concurrency} in flight:`,
        `  Marker.runOnce         ${Math.round(markerRate)} rows/s, ${cpu(markerCpu)} (ms: ${
          fmt(markerMs)
        })`,
        `  one set-based UPDATE   ${Math.round(sqlRate)} rows/s, ${cpu(sqlCpu)} (ms: ${
          fmt(sqlMs)
        })`,
        `  marker / hand-written  ${ratio(markerRate, sqlRate)} by wall time, ${
          ratio(median(sqlCpu), median(markerCpu))
        } by CPU time (client + database)`,
      ],
    };
  } finally {
    await temp.drop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rows: { type: "string" },
      rounds: { type: "string" },
      batch: { type: "string" },
      concurrency: { type: "string" },
    },
  });
  const result = await runMarkBench({
    rows: values.rows ? Number(values.rows) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    batch: values.batch ? Number(values.batch) : undefined,
    concurrency: values.concurrency ? Number(values.concurrency) : undefined,
  });
  console.log(result.lines.join("\n"));
}
