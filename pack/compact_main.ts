/**
 * The compactor entry point: `deno task compact [--range A-B] [--once] …`
 * (also `des compact …`). Each run first finishes or cleans up what crashed
 * packers and compactors left (like `des recover`), then compacts the
 * containers of the range whose dead-byte ratio exceeds
 * `DES_COMPACT_THRESHOLD` and deletes retired objects older than
 * `DES_COMPACT_GRACE`. Configuration is validated before anything is
 * written; a bad configuration exits with status 2, a failure with 1.
 *
 * Testing aid: `DES_FAULT_KILL_AT=<state>[:<n>]` makes the process SIGKILL
 * itself right after its n-th write-ahead transition into `<state>`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type EnvSource, parseDuration } from "../core/config.ts";
import { Registry } from "../core/metrics.ts";
import { CompactMetrics } from "./compact_metrics.ts";
import { compactRunSummary, configuredCompactor } from "./compactor.ts";
import { option, packerOptions, port, reportPackError } from "./main.ts";
import { openPackEnvironment } from "./pack_setup.ts";
import { servePacker } from "./pack_service.ts";
import { COMPACT_USAGE } from "./usage.ts";
import { Packer } from "./packer.ts";

/** Default port of `/metrics`, `/healthz` and `/readyz` in service mode. */
export const DEFAULT_COMPACTOR_PORT = 9475;

/** Run `des compact` with `args`; resolves to the exit status. */
export async function compactCommand(args: string[], env: EnvSource = Deno.env): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      range: { type: "string" },
      sources: { type: "string", default: "configs/sources.yaml" },
      lease: { type: "string", default: "30s" },
      once: { type: "boolean", default: false },
      port: { type: "string", default: String(DEFAULT_COMPACTOR_PORT) },
      host: { type: "string", default: "0.0.0.0" },
      interval: { type: "string", default: "60s" },
    },
  });
  const leaseMs = option("--lease", values.lease, parseDuration);
  const intervalMs = option("--interval", values.interval, parseDuration);
  const listenPort = option("--port", values.port, port);
  const environment = await openPackEnvironment({
    sourcesPath: values.sources,
    range: values.range,
    component: "compactor",
    env,
  });
  try {
    const registry = new Registry();
    const controller = values.once ? undefined : new AbortController();
    const packer = new Packer({ ...packerOptions(environment), leaseMs, metrics: registry });
    const compactor = configuredCompactor(packer.context, environment, {
      leaseMs,
      metrics: new CompactMetrics(registry),
      signal: controller?.signal,
    });
    const recovery = await packer.recoverAll();
    if (!controller) {
      const result = await compactor.runOnce();
      console.log(compactRunSummary(result));
      return result.errors.length === 0 && recovery.failedShards.length === 0 ? 0 : 1;
    }
    return await servePacker(compactor, environment, {
      registry,
      controller,
      port: listenPort,
      host: values.host,
      intervalMs,
      name: "compactor",
    });
  } finally {
    await environment.close();
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await compactCommand(Deno.args);
  } catch (e) {
    code = reportPackError("compact", e, COMPACT_USAGE);
  }
  Deno.exit(code);
}
