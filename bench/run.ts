/**
 * `deno task bench [--quick] [--profile DIR] [--only format|mark|mark-scale|pack|read|serve|scale|audit]`: every
 * benchmark, each against a baseline measured in the same run, then ONE
 * table of every figure with its ratio and goal. `--quick` runs each suite
 * briefly (small data, short runs) so that CI keeps the benchmarks working;
 * its figures mean nothing. `--profile DIR` writes CPU profiles of the DES
 * processes of the read and serve suites there and prints CPU µs per request
 * by stage. Figures are recorded in docs/benchmarks.md.
 *
 * The mark, pack and read suites use PostgreSQL (`DES_TEST_DATABASE_URL` or
 * the local server) and S3 (`DES_TEST_S3_*`, or a Ceph RGW started for the
 * run and wiped after); the serve suite uses nginx and wrk (Debian packages,
 * installed with apt-get when missing).
 *
 * @module
 */

import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureDatabase, startRgw, type TestRgw } from "../scripts/services.ts";
import { type Figure, figureTable } from "./figures.ts";
import { stagesOfFile, stageTable } from "./profile_stages.ts";
import { runFormatBench } from "./format_bench.ts";
import { runMarkBench } from "./mark_bench.ts";
import { markScaleFigures, runMarkScaleBench } from "./mark_scale_bench.ts";
import { runPackBench } from "./pack_bench.ts";
import { formatResult, type PathResult, type ReadBenchResult, runReadBench } from "./read_bench.ts";
import { runScaleBench, scaleReport } from "./scale_bench.ts";
import { DOCUMENTED_PEAK_READS_PER_SECOND, runAuditBench } from "./audit_bench.ts";
import { formatServeResult, runServeBench, type ServeBenchResult } from "./serve_bench.ts";
import { machineLine } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    profile: { type: "string" },
    files: { type: "string" },
    "rss-files": { type: "string" },
  },
});
const quick = values.quick;
/** The highest gateway read rate a read or serve suite measured in this run (audit compares with it). */
let peakReads: { readsPerSecond: number; source: string } | undefined;
function sawReads(readsPerSecond: number, source: string): void {
  if (!peakReads || readsPerSecond > peakReads.readsPerSecond) {
    peakReads = { readsPerSecond, source };
  }
}
const profileRoot = values.profile ? resolve(values.profile) : undefined;

/** What a suite hands back: its own report lines and its figures for the table. */
interface SuiteResult {
  lines: string[];
  figures: Figure[];
}

const suites: Record<string, { services: boolean; run: () => Promise<SuiteResult> }> = {
  format: {
    services: false,
    run: () =>
      runFormatBench({
        files: values.files ? Number(values.files) : quick ? 1000 : undefined,
        rssFiles: values["rss-files"] ? Number(values["rss-files"]) : quick ? 2000 : undefined,
        rounds: quick ? 1 : undefined,
      }),
  },
  mark: {
    services: true,
    run: async () => {
      const r = await runMarkBench(quick ? { rows: 5000, rounds: 1 } : {});
      return {
        lines: r.lines,
        figures: [{
          suite: "mark",
          name: "marker vs one hand-written set-based UPDATE",
          des: `${Math.round(r.markerRowsPerSecond)} rows/s`,
          baseline: `${Math.round(r.sqlRowsPerSecond)} rows/s`,
          ratio: r.markerRowsPerSecond / r.sqlRowsPerSecond,
          goal: { op: ">=", value: 0.9 },
        }],
      };
    },
  },
  "mark-scale": {
    services: true,
    run: async () =>
      markScaleFigures(
        await runMarkScaleBench(quick ? { small: 2000, large: 20_000, batches: 3 } : {}),
      ),
  },
  pack: {
    services: true,
    run: async () => {
      const r = await runPackBench(quick ? { files: 500, rounds: 1 } : {});
      return {
        lines: r.lines,
        figures: [{
          suite: "pack",
          name: "packer end to end vs tar -cf + one S3 put",
          des: `${Math.round(r.packerFilesPerSecond)} files/s`,
          baseline: `${Math.round(r.tarFilesPerSecond)} files/s`,
          ratio: r.packerFilesPerSecond / r.tarFilesPerSecond,
          goal: { op: ">=", value: 1 },
        }],
      };
    },
  },
  read: {
    services: true,
    run: async () => {
      const profileDir = profileRoot && join(profileRoot, "read");
      const r = await runReadBench(
        quick ? { files: 100, seconds: 1, clients: 8, profileDir } : { detail: true, profileDir },
      );
      sawReads(r.hot.rps, "read suite, hot reads");
      const lines = formatResult(r).split("\n");
      if (profileDir) lines.push(...await readStages(r));
      return { lines, figures: readFigures(r) };
    },
  },
  serve: {
    services: quick,
    run: async () => {
      const profileDir = profileRoot && join(profileRoot, "serve");
      const r = await runServeBench(
        quick
          ? {
            profileDir,
            files: 100,
            seconds: 1,
            rounds: 1,
            connections: 8,
            postgresUrl: Deno.env.get("DES_TEST_DATABASE_URL"),
          }
          : { profileDir },
      );
      sawReads(r.serve.rps, "serve suite");
      const lines = formatServeResult(r);
      if (r.profile) {
        const stages = await stagesOfFile(
          r.profile,
          r.lastServe.requests,
          r.lastServe.window,
          r.lastServe.cpuMicrosPerRequest,
        );
        lines.push(
          "",
          "CPU µs per request by stage (deno task serve, hot reads):",
          ...stageTable([{ label: "serve", stages }]),
        );
      }
      return { lines, figures: serveFigures(r) };
    },
  },
  audit: {
    services: true,
    run: async () => {
      const peak = peakReads && peakReads.readsPerSecond > DOCUMENTED_PEAK_READS_PER_SECOND
        ? peakReads
        : undefined;
      const r = await runAuditBench({ rows: quick ? 5000 : undefined, peak });
      return { lines: r.lines, figures: r.figures };
    },
  },
  scale: {
    services: true,
    run: async () =>
      scaleReport(
        await runScaleBench(
          quick ? { containers: [10, 100], files: [100, 1000], reads: 500 } : {},
        ),
      ),
  },
};

function readFigures(r: ReadBenchResult): Figure[] {
  const rps = (x: number) => `${Math.round(x)} req/s`;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  return [
    {
      suite: "read",
      name: "hot reads on S3 (byte cache) vs direct GetObject, req/s",
      des: rps(r.hot.rps),
      baseline: rps(r.direct.rps),
      ratio: r.hot.rps / r.direct.rps,
      goal: { op: ">=", value: 5 },
    },
    {
      suite: "read",
      name: "hot reads on S3 (byte cache) vs direct GetObject, p99",
      des: ms(r.hot.p99),
      baseline: ms(r.direct.p99),
      ratio: r.hot.p99 / r.direct.p99,
      goal: { op: "<=", value: 0.5 },
    },
    {
      suite: "read",
      name: "warm-index reads on S3 vs direct GetObject, req/s",
      des: rps(r.warm.rps),
      baseline: rps(r.direct.rps),
      ratio: r.warm.rps / r.direct.rps,
      goal: { op: ">=", value: 0.8 },
    },
    {
      suite: "read",
      name: "warm-index reads on S3 vs direct GetObject, p50",
      des: ms(r.warm.p50),
      baseline: ms(r.direct.p50),
      ratio: r.warm.p50 / r.direct.p50,
      goal: { op: "<=", value: 1.2 },
    },
    {
      suite: "read",
      name: "floor: direct Range GET of the same bytes in their containers, req/s",
      des: rps(r.rangeFloor.rps),
      baseline: rps(r.direct.rps),
      ratio: r.rangeFloor.rps / r.direct.rps,
    },
    {
      suite: "read",
      name: "floor: direct Range GET of the same bytes in their containers, p50",
      des: ms(r.rangeFloor.p50),
      baseline: ms(r.direct.p50),
      ratio: r.rangeFloor.p50 / r.direct.p50,
    },
  ];
}

/** Stage tables of the read suite's gateways and retrievers (each process's last run). */
async function readStages(r: ReadBenchResult): Promise<string[]> {
  const runs: Record<string, PathResult | undefined> = {
    "gateway-warm": r.warm,
    "retriever-warm": r.warm,
    "gateway-hot": r.hot,
    "retriever-hot": r.hot,
    "in-process": r.detail?.inProcess,
  };
  const process: Record<string, string> = {
    "gateway-warm": "gateway",
    "retriever-warm": "retriever",
    "gateway-hot": "gateway",
    "retriever-hot": "retriever",
    "in-process": "gateway",
  };
  const columns = [];
  for (const [label, run] of Object.entries(runs)) {
    const dir = r.profiles[label];
    if (!dir || !run) continue;
    const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"));
    if (files.length === 0) continue;
    columns.push({
      label,
      stages: await stagesOfFile(
        join(dir, files[0].name),
        run.requests,
        run.window,
        run.cpuMsPerRequest[process[label]] * 1000,
      ),
    });
  }
  return ["", "CPU µs per request by stage (S3 read path, per process):", ...stageTable(columns)];
}

function serveFigures(r: ServeBenchResult): Figure[] {
  return [{
    suite: "serve",
    name: `hot reads: deno task serve vs nginx, wrk ${r.params.connections} conn, ` +
      `${r.params.files} names`,
    des: `${Math.round(r.serve.rps)} req/s`,
    baseline: `${Math.round(r.nginx.rps)} req/s`,
    ratio: r.serve.rps / r.nginx.rps,
    goal: { op: ">=", value: 0.5 },
  }];
}

const chosen = Object.entries(suites).filter(([name]) => !values.only || values.only === name);
if (chosen.length === 0) {
  console.error(`unknown suite ${values.only}; one of ${Object.keys(suites).join(", ")}`);
  Deno.exit(2);
}
let rgw: TestRgw | null = null;
if (chosen.some(([, s]) => s.services)) {
  const url = await ensureDatabase();
  if (!url) Deno.exit(1);
  Deno.env.set("DES_TEST_DATABASE_URL", url);
  if (!Deno.env.get("DES_TEST_S3_ENDPOINT")) {
    rgw = await startRgw();
    if (!rgw) Deno.exit(1);
    for (const [k, v] of Object.entries(rgw.env)) Deno.env.set(k, v);
  }
}
const figures: Figure[] = [];
let failed = 0;
try {
  const started = performance.now();
  console.log(
    `DES benchmarks${quick ? " (--quick: figures not meaningful)" : ""} — ` +
      `${new Date().toISOString()} — ${machineLine()}`,
  );
  for (const [name, suite] of chosen) {
    console.log(`\n## ${name}`);
    const t0 = performance.now();
    try {
      const result = await suite.run();
      console.log(result.lines.join("\n"));
      figures.push(...result.figures);
    } catch (error) {
      failed++;
      console.log(`suite ${name} failed: ${(error as Error).stack ?? error}`);
    }
    console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  console.log(`\n## all figures (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  console.log(figureTable(figures).join("\n"));
} finally {
  await rgw?.stop();
}
if (failed > 0) Deno.exit(1);
