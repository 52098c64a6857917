/**
 * The scrubber entry point:
 * `deno task scrub [--rate 50MiB/s] [--range A-B] [--once | --interval 1h] [--no-repair] …`
 * (also `des scrub …`). Configuration, the sources file and every parent
 * table are checked before anything is read; a bad option or setting exits
 * with status 2. `--once` makes one pass and exits 1 when it found damage
 * that is not repaired; otherwise the scrubber runs as a service with
 * `/metrics`, `/healthz` and `/readyz`, starting a new pass an interval
 * after the previous one ended.
 *
 * @module
 */

import { SCRUB_USAGE } from "./usage.ts";
export { SCRUB_USAGE };
import { parseArgs } from "node:util";
import { type EnvSource, parseDuration } from "../core/config.ts";
import { DesInputError } from "../core/errors.ts";
import { Registry } from "../core/metrics.ts";
import { option, packerOptions, port, reportPackError } from "../pack/main.ts";
import { openPackEnvironment } from "../pack/pack_setup.ts";
import { servePacker } from "../pack/pack_service.ts";
import { Packer } from "../pack/packer.ts";
import { BucketStores } from "../retriever/bucket_stores.ts";
import { parseByteRate } from "./rate.ts";
import { Repairer } from "./repair.ts";
import { ScrubMetrics } from "./scrub_metrics.ts";
import { Scrubber, type ScrubPass } from "./scrubber.ts";

/** Default port of `/metrics`, `/healthz` and `/readyz` in service mode. */
export const DEFAULT_SCRUB_PORT = 9473;

/** Run `des scrub` with `args` (without `--report`); resolves to the exit status. */
export async function scrubCommand(args: string[], env: EnvSource = Deno.env): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      rate: { type: "string", default: "50MiB/s" },
      range: { type: "string" },
      once: { type: "boolean", default: false },
      interval: { type: "string" },
      "no-repair": { type: "boolean", default: false },
      sources: { type: "string", default: "configs/sources.yaml" },
      port: { type: "string", default: String(DEFAULT_SCRUB_PORT) },
      host: { type: "string", default: "0.0.0.0" },
    },
  });
  if (values.once && values.interval !== undefined) {
    throw new DesInputError("--once and --interval exclude each other");
  }
  const rate = parseByteRate(values.rate);
  const intervalMs = option("--interval", values.interval ?? "1h", parseDuration);
  const listenPort = option("--port", values.port, port);
  const environment = await openPackEnvironment({
    sourcesPath: values.sources,
    range: values.range,
    component: "scrub",
    env,
  });
  const buckets = BucketStores.fromConfig(environment.config);
  try {
    const registry = new Registry();
    const controller = new AbortController();
    const packer = new Packer({ ...packerOptions(environment), metrics: registry });
    const scrubber = new Scrubber({
      db: environment.db,
      storeFor: buckets.storeFor,
      range: { start: environment.range.rangeStart, end: environment.range.rangeEnd },
      rateBytesPerSecond: rate,
      repair: values["no-repair"] ? undefined : new Repairer(packer.context, {
        bigFileThreshold: environment.config.bigFileThreshold,
        readBounds: {
          timeoutMs: environment.config.originalReadTimeout,
          retries: environment.config.originalReadRetries,
        },
      }),
      metrics: new ScrubMetrics(registry),
      logger: environment.logger,
      signal: controller.signal,
    });
    if (values.once) return outcome(await scrubber.runPass(), true);
    return await servePacker(
      { runOnce: async () => outcome(await scrubber.runPass(), false) },
      environment,
      {
        registry,
        controller,
        port: listenPort,
        host: values.host,
        intervalMs,
        name: "scrubber",
        runName: "scrub pass",
      },
    );
  } finally {
    buckets.close();
    await environment.close();
  }
}

/** Print a one-pass summary; 1 when damage was found that is not repaired. */
function outcome(pass: ScrubPass, print: boolean): number {
  const line = `scrubbed ${pass.containers} containers (${pass.bytes} bytes) in ` +
    `${pass.seconds.toFixed(1)} s: ${pass.ok} ok, ${pass.damagedFiles} damaged files, ` +
    `${pass.errors} containers with errors; repaired ${pass.repaired}, lost ${pass.lost}, ` +
    `left for the next pass ${pass.deferred}`;
  if (print) console.log(line);
  return pass.errors > 0 || pass.damagedFiles > pass.repaired ? 1 : 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await scrubCommand(Deno.args);
  } catch (e) {
    code = reportPackError("scrub", e, SCRUB_USAGE);
  }
  Deno.exit(code);
}
