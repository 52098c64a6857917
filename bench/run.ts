/**
 * `deno task bench`: every benchmark, each against a baseline measured in the
 * same run, printed as ratios. Figures are recorded in docs/benchmarks.md.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { machineLine } from "./stats.ts";
import { runFormatBench } from "./format_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    files: { type: "string" },
    "rss-files": { type: "string" },
  },
});

const suites: Record<string, () => Promise<{ lines: string[] }>> = {
  format: () =>
    runFormatBench({
      files: values.files ? Number(values.files) : undefined,
      rssFiles: values["rss-files"] ? Number(values["rss-files"]) : undefined,
    }),
};

console.log(`DES benchmarks — ${new Date().toISOString()} — ${machineLine()}`);
for (const [name, run] of Object.entries(suites)) {
  if (values.only && values.only !== name) continue;
  console.log(`\n## ${name}`);
  const { lines } = await run();
  console.log(lines.join("\n"));
}
