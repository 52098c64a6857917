/**
 * `deno task bench [--only format|mark|pack|read]`: every benchmark, each
 * against a baseline measured in the same run, printed as ratios. Figures are
 * recorded in docs/benchmarks.md. The mark, pack and read suites use
 * PostgreSQL (`DES_TEST_DATABASE_URL` or the local server) and S3
 * (`DES_TEST_S3_*`, or a Ceph RGW started for the run and wiped after).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ensureDatabase, startRgw, type TestRgw } from "../scripts/services.ts";
import { runFormatBench } from "./format_bench.ts";
import { runMarkBench } from "./mark_bench.ts";
import { runPackBench } from "./pack_bench.ts";
import { formatResult, runReadBench } from "./read_bench.ts";
import { machineLine } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    files: { type: "string" },
    "rss-files": { type: "string" },
  },
});

const suites: Record<string, { services: boolean; run: () => Promise<string[]> }> = {
  format: {
    services: false,
    run: async () =>
      (await runFormatBench({
        files: values.files ? Number(values.files) : undefined,
        rssFiles: values["rss-files"] ? Number(values["rss-files"]) : undefined,
      })).lines,
  },
  mark: { services: true, run: async () => (await runMarkBench()).lines },
  pack: { services: true, run: async () => (await runPackBench()).lines },
  read: { services: true, run: async () => formatResult(await runReadBench()).split("\n") },
};

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
try {
  console.log(`DES benchmarks — ${new Date().toISOString()} — ${machineLine()}`);
  for (const [name, suite] of chosen) {
    console.log(`\n## ${name}`);
    console.log((await suite.run()).join("\n"));
  }
} finally {
  await rgw?.stop();
}
