/**
 * The packer entry points: `deno task pack [--range A-B] [--once] [--compact] …`
 * (also `des pack …`; `--compact` runs the compactor after each packing run,
 * with the `DES_COMPACT_*` settings) and `des recover [--range A-B]`. Configuration is validated
 * before anything is written; a bad configuration exits with status 2, an
 * unreachable service or a failed shard with 1.
 *
 * Testing aid: `DES_FAULT_KILL_AT=<state>[:<n>]` makes the process SIGKILL
 * itself right after its n-th write-ahead transition into `<state>`.
 *
 * @module
 */

import { PACK_USAGE, RECOVER_USAGE } from "./usage.ts";
export { PACK_USAGE, RECOVER_USAGE };
import { parseArgs } from "node:util";
import { type EnvSource, parseByteSize, parseDuration } from "../core/config.ts";
import { DesConfigError, DesError, DesInputError } from "../core/errors.ts";
import { Registry } from "../core/metrics.ts";
import { Progress } from "../core/progress.ts";
import { killAt } from "./fault.ts";
import { openPackEnvironment, type PackEnvironment } from "./pack_setup.ts";
import { Packer, type PackerOptions } from "./packer.ts";
import { type RepeatedRun, servePacker } from "./pack_service.ts";
import { compactRunSummary, configuredCompactor } from "./compactor.ts";
import { CompactMetrics } from "./compact_metrics.ts";

/** Default port of `/metrics`, `/healthz` and `/readyz` in service mode. */
export const DEFAULT_PACKER_PORT = 9472;

const COMMON_OPTIONS = {
  range: { type: "string" },
  sources: { type: "string", default: "configs/sources.yaml" },
  lease: { type: "string", default: "30s" },
} as const;

/** Run `des pack` with `args`; resolves to the exit status. Throws like `reportPackError` expects. */
export async function packCommand(args: string[], env: EnvSource = Deno.env): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      ...COMMON_OPTIONS,
      once: { type: "boolean", default: false },
      port: { type: "string", default: String(DEFAULT_PACKER_PORT) },
      host: { type: "string", default: "0.0.0.0" },
      interval: { type: "string", default: "30s" },
      "max-container-bytes": { type: "string", default: "256MiB" },
      "max-container-files": { type: "string", default: "50000" },
      "fetch-concurrency": { type: "string", default: "16" },
      "shard-concurrency": { type: "string", default: "4" },
      "containers-in-flight": { type: "string", default: "2" },
      "stream-upload": { type: "boolean", default: false },
      compact: { type: "boolean", default: false },
    },
  });
  const tuning = {
    leaseMs: option("--lease", values.lease, parseDuration),
    intervalMs: option("--interval", values.interval, parseDuration),
    maxContainerBytes: option(
      "--max-container-bytes",
      values["max-container-bytes"],
      parseByteSize,
    ),
    maxContainerFiles: option("--max-container-files", values["max-container-files"], count),
    fetchConcurrency: option("--fetch-concurrency", values["fetch-concurrency"], count),
    shardConcurrency: option("--shard-concurrency", values["shard-concurrency"], count),
    containersInFlight: option(
      "--containers-in-flight",
      values["containers-in-flight"],
      count,
    ),
    port: option("--port", values.port, port),
  };
  const environment = await openPackEnvironment({
    sourcesPath: values.sources,
    range: values.range,
    component: "packer",
    env,
  });
  try {
    const registry = new Registry();
    const progress = values.once ? new Progress("packed") : undefined;
    const signal = values.once ? undefined : new AbortController();
    const packer = new Packer({
      ...packerOptions(environment),
      leaseMs: tuning.leaseMs,
      maxContainerBytes: tuning.maxContainerBytes,
      maxContainerFiles: tuning.maxContainerFiles,
      fetchConcurrency: tuning.fetchConcurrency,
      shardConcurrency: tuning.shardConcurrency,
      containersInFlight: tuning.containersInFlight,
      streamUpload: values["stream-upload"],
      metrics: registry,
      onPacked: progress ? (files, bytes) => progress.tick(files, bytes) : undefined,
      signal: signal?.signal,
    });
    const compactor = values.compact
      ? configuredCompactor(packer.context, environment, {
        leaseMs: tuning.leaseMs,
        metrics: new CompactMetrics(registry),
        signal: signal?.signal,
      })
      : undefined;
    if (!values.once) {
      const run: RepeatedRun = compactor
        ? { runOnce: async () => (await packer.runOnce(), await compactor.runOnce()) }
        : packer;
      return await servePacker(run, environment, {
        registry,
        controller: signal!,
        port: tuning.port,
        host: values.host,
        intervalMs: tuning.intervalMs,
      });
    }
    const result = await packer.runOnce();
    console.log(progress!.done(
      `${result.containers} containers, ${result.failedRows} rows failed, ` +
        `${result.shards} shards, ${result.busyShards} busy, ${result.errors.length} shard errors`,
    ));
    const compacted = await compactor?.runOnce();
    if (compacted) console.log(compactRunSummary(compacted));
    return result.errors.length === 0 && !compacted?.errors.length ? 0 : 1;
  } finally {
    await environment.close();
  }
}

/** Run `des recover` with `args`: finish or clean up unfinished containers, delete orphans. */
export async function recoverCommand(args: string[], env: EnvSource = Deno.env): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: COMMON_OPTIONS,
  });
  const leaseMs = option("--lease", values.lease, parseDuration);
  const environment = await openPackEnvironment({
    sourcesPath: values.sources,
    range: values.range,
    component: "recover",
    env,
  });
  try {
    const packer = new Packer({ ...packerOptions(environment), leaseMs });
    const report = await packer.recoverAll();
    const expired = await configuredCompactor(packer.context, environment, { leaseMs }).expire();
    const states = Object.entries(report.recovered).map(([s, n]) => `${s} ${n}`).join(", ");
    console.log(
      `recovered ${report.shards.length} shards (${states || "nothing unfinished"}), ` +
        `${report.orphans.deleted.length} orphan objects deleted, ` +
        `${report.orphans.uploadsAborted} uploads aborted, ` +
        `${expired.objectsDeleted} retired objects deleted after their grace period, ` +
        `${report.busyShards.length} shards busy, ${report.failedShards.length} failed` +
        (report.orphans.skippedBusy > 0
          ? `; ${report.orphans.skippedBusy} objects in shards leased by a live worker were ` +
            `left for a later pass`
          : "") +
        (report.orphans.unknown.length > 0
          ? `; ${report.orphans.unknown.length} objects have no catalog row and were kept ` +
            `(run des rebuild-catalog to adopt them)`
          : ""),
    );
    return report.failedShards.length === 0 && expired.errors.length === 0 ? 0 : 1;
  } finally {
    await environment.close();
  }
}

/** Packer options of an opened pack environment (range, limits, sources, store, settings). */
export function packerOptions(environment: PackEnvironment): PackerOptions {
  const { config, range } = environment;
  return {
    db: environment.db,
    sources: [...environment.sources.byName.values()],
    store: environment.store,
    bucket: config.archiveBucket,
    shardBits: config.shardBits,
    workdir: config.packerWorkdir,
    rangeStart: range.rangeStart,
    rangeEnd: range.rangeEnd,
    bigFileThreshold: config.bigFileThreshold,
    deleteSources: config.deleteSources,
    originalReadTimeoutMs: config.originalReadTimeout,
    originalReadRetries: config.originalReadRetries,
    logger: environment.logger,
    onTransition: killAt(environment.killPoint),
  };
}

/** Parse the value of command-line option `name`; a bad value is a `DesInputError` naming it. */
export function option<T>(name: string, raw: string, parse: (raw: string) => T): T {
  try {
    return parse(raw);
  } catch (error) {
    throw new DesInputError(`${name} ${raw}: ${(error as Error).message}`, { option: name });
  }
}

function count(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) throw new Error("expected a whole number >= 1");
  return n;
}

/** Parse a port number 0..65535. */
export function port(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new Error("expected a port 0..65535");
  return n;
}

/** Print an error of `des <command>` and map it to an exit status (2 = usage or configuration). */
export function reportPackError(
  command: string,
  e: unknown,
  usage: string = command === "pack" ? PACK_USAGE : RECOVER_USAGE,
): number {
  const parseArgsError = String((e as { code?: string })?.code ?? "").startsWith("ERR_PARSE_ARGS");
  if (e instanceof DesConfigError || e instanceof DesInputError || parseArgsError) {
    console.error(`des ${command}: ${(e as Error).message}\nusage: ${usage}`);
    return 2;
  }
  console.error(`des ${command}: ${e instanceof DesError ? e.message : (e as Error)?.stack ?? e}`);
  return 1;
}

if (import.meta.main) {
  const recover = Deno.args[0] === "recover";
  let code: number;
  try {
    code = recover ? await recoverCommand(Deno.args.slice(1)) : await packCommand(Deno.args);
  } catch (e) {
    code = reportPackError(recover ? "recover" : "pack", e);
  }
  Deno.exit(code);
}
