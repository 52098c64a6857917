/**
 * The marker entry point:
 * `deno task mark [--once | --interval 60s] [--sources configs/sources.yaml] [--port N]`,
 * also `des mark …`. Configuration and every parent table are checked before
 * anything is written; a bad configuration exits with status 2. Sources with
 * a deletion rule are reaped in the same loop, after marking;
 * `deno task reap` ({@linkcode reapCommand}) runs the reaper alone.
 *
 * @module
 */

import { MARK_USAGE, REAP_USAGE } from "./usage.ts";
export { MARK_USAGE, REAP_USAGE };
import { parseArgs } from "node:util";
import { type DesConfig, type EnvSource, loadConfig, parseDuration } from "../core/config.ts";
import { DesConfigError, DesError, DesInputError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { Registry } from "../core/metrics.ts";
import { Progress } from "../core/progress.ts";
import type { Db } from "../db/db.ts";
import { openDb } from "../db/open_db.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { ParentTable } from "../parent/parent_table.ts";
import { type ContractNeeds, contractNeedsOf } from "../parent/contract_needs.ts";
import { checkSourceAgainstDb, loadSources } from "../parent/sources.ts";
import { BucketStores } from "../retriever/bucket_stores.ts";
import { sleep } from "./backoff.ts";
import { Marker } from "./marker.ts";
import { Reaper } from "./reaper.ts";
import { databaseReady, markerApp } from "./server.ts";

/** Default port of `/metrics`, `/healthz` and `/readyz` in service mode. */
export const DEFAULT_MARKER_PORT = 9471;

/** Default port of `/metrics`, `/healthz` and `/readyz` of `deno task reap` in service mode. */
export const DEFAULT_REAPER_PORT = 9473;

/** What a run does: mark (and reap the sources with a deletion rule), or only reap. */
type RunMode = "mark" | "reap";
interface MarkArgs {
  help: boolean;
  once: boolean;
  intervalMs?: number;
  sourcesPath: string;
  port: number;
  host: string;
  concurrency: number;
}

function parseMarkArgs(args: string[], mode: RunMode): MarkArgs {
  const usage = mode === "mark" ? MARK_USAGE : REAP_USAGE;
  const { values } = parseArgs({
    args,
    options: {
      once: { type: "boolean", default: false },
      interval: { type: "string" },
      sources: { type: "string", default: "configs/sources.yaml" },
      port: {
        type: "string",
        default: String(mode === "mark" ? DEFAULT_MARKER_PORT : DEFAULT_REAPER_PORT),
      },
      host: { type: "string", default: "0.0.0.0" },
      concurrency: { type: "string", default: "3" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.once && values.interval !== undefined) {
    throw new DesInputError(`--once and --interval exclude each other; usage: ${usage}`);
  }
  let intervalMs: number | undefined;
  if (values.interval !== undefined) {
    try {
      intervalMs = parseDuration(values.interval);
    } catch (e) {
      throw new DesInputError(`--interval ${values.interval}: ${(e as Error).message}`);
    }
    if (intervalMs < 1) throw new DesInputError("--interval must be positive");
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new DesInputError(`--concurrency must be 1..64, got ${values.concurrency}`);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DesInputError(`--port must be 0..65535, got ${values.port}`);
  }
  return {
    help: values.help,
    once: intervalMs === undefined,
    intervalMs,
    sourcesPath: values.sources,
    port,
    host: values.host,
    concurrency,
  };
}

/** An opened, checked source. */
interface ReadySource {
  db: Db;
  table: ParentTable;
}

/**
 * Open every source's database and check its table, with the column types
 * and sizes DES needs; nothing is written.
 */
async function openSources(
  path: string,
  env: EnvSource,
  log: Logger,
  connections: number,
  needs: ContractNeeds,
): Promise<ReadySource[]> {
  const sources = await loadSources(path, env);
  const ready: ReadySource[] = [];
  const opened: Db[] = [];
  try {
    for (const source of sources) {
      const db = await openDb(source.dsn, { max: connections, applicationName: "des-marker" });
      opened.push(db);
      const schema = await checkSourceAgainstDb(db, source, needs);
      ready.push({ db, table: new ParentTable(db, source, schema) });
      log.info("source checked", {
        source: source.name,
        table: source.table,
        idType: schema.idType,
      });
    }
  } catch (err) {
    await Promise.all(opened.map((db) => db.close().catch(() => {})));
    throw err;
  }
  return ready;
}

function makeMarker(
  table: ParentTable,
  names: NameGenerator,
  config: DesConfig,
  extra: {
    concurrency: number;
    metrics: Registry;
    logger: Logger;
    signal?: AbortSignal;
    progress?: Progress;
  },
): Marker {
  return new Marker({
    table,
    names,
    batchSize: config.markerBatchSize,
    concurrency: extra.concurrency,
    metrics: extra.metrics,
    logger: extra.logger,
    signal: extra.signal,
    onBatch: (marked, failed) => extra.progress?.tick(marked + failed),
  });
}

/**
 * Run the marker with command-line `args`; resolves to the exit status.
 * Throws `DesConfigError`/`DesInputError` (status 2) for bad configuration or
 * usage and `DesUnavailableError` when a parent database cannot be reached.
 */
export function markCommand(args: string[], env: EnvSource = Deno.env): Promise<number> {
  return runCommand(args, env, "mark");
}

/**
 * Run the reaper alone (`deno task reap [--once | --interval 60s]`): every
 * source with a deletion rule. Exit statuses as {@linkcode markCommand}; a
 * configuration without any deletion rule is a `DesConfigError`.
 */
export function reapCommand(args: string[], env: EnvSource = Deno.env): Promise<number> {
  return runCommand(args, env, "reap");
}

/** Reapers of the sources with a deletion rule, and what they hold open. */
interface Reaping {
  reapers: Reaper[];
  close(): Promise<void>;
}

async function openReaping(
  sources: ReadySource[],
  config: DesConfig,
  metrics: Registry,
  logger: Logger,
  signal?: AbortSignal,
): Promise<Reaping> {
  const tables = sources.map((s) => s.table).filter((t) => t.hasDeletionRule);
  if (tables.length === 0) return { reapers: [], close: () => Promise.resolve() };
  const db = await openDb(config.databaseUrl, { applicationName: "des-reaper" });
  const stores = BucketStores.fromConfig(config);
  const reapers = tables.map((table) =>
    new Reaper({
      table,
      db,
      storeFor: stores.storeFor,
      nameFormat: { shardBits: config.shardBits, prefix: config.namePrefix },
      metrics,
      logger: logger.child({ component: "reaper" }),
      signal,
    })
  );
  return {
    reapers,
    close: async () => {
      stores.close();
      await db.close();
    },
  };
}

async function runCommand(args: string[], env: EnvSource, mode: RunMode): Promise<number> {
  const opts = parseMarkArgs(args, mode);
  if (opts.help) {
    console.log(`usage: ${mode === "mark" ? MARK_USAGE : REAP_USAGE}\nSee docs/integration.md.`);
    return 0;
  }
  const config = loadConfig(env);
  const logger = new Logger("marker", { level: config.logLevel as "info" });
  const names = new NameGenerator({
    nodeId: config.nodeId,
    shardBits: config.shardBits,
    prefix: config.namePrefix,
  });
  const sources = await openSources(
    opts.sourcesPath,
    env,
    logger,
    opts.concurrency + 1,
    contractNeedsOf(config),
  );
  const metrics = new Registry();
  const controller = new AbortController();
  let reaping: Reaping | undefined;
  try {
    if (mode === "reap" && !sources.some((s) => s.table.hasDeletionRule)) {
      throw new DesConfigError(
        `${opts.sourcesPath}: no source has a deletion rule (statuses.deleted and statuses.purged)`,
      );
    }
    reaping = await openReaping(sources, config, metrics, logger, controller.signal);
    const work = { markers: mode === "mark", reapers: reaping.reapers };
    if (opts.once) return await runOnce(sources, names, config, metrics, logger, opts, work);
    return await serve(sources, names, config, metrics, logger, opts, work, controller);
  } finally {
    await reaping?.close().catch(() => {});
    await Promise.all(sources.map((s) => s.db.close().catch(() => {})));
  }
}

/** What a run does besides its sources. */
interface Work {
  /** Whether to mark. */
  markers: boolean;
  /** The reapers to run after marking. */
  reapers: Reaper[];
}

async function reapAll(reapers: Reaper[], logger: Logger, print: boolean): Promise<void> {
  for (const reaper of reapers) {
    try {
      const r = await reaper.runOnce();
      if (print) {
        console.log(
          `reaped: ${r.tombstoned} tombstoned, ${r.purged} purged, ${r.failed} failed, ` +
            `${r.waiting} waiting for erasure`,
        );
      }
    } catch (err) {
      logger.error("reaping run failed; next try after the interval", { error: err as Error });
      if (print) throw err;
    }
  }
}

async function runOnce(
  sources: ReadySource[],
  names: NameGenerator,
  config: DesConfig,
  metrics: Registry,
  logger: Logger,
  opts: MarkArgs,
  work: Work,
): Promise<number> {
  for (const { table } of work.markers ? sources : []) {
    const total = await table.countEligible();
    const progress = new Progress(`marked ${table.source.name}`, { total });
    const marker = makeMarker(table, names, config, {
      concurrency: opts.concurrency,
      metrics,
      logger,
      progress,
    });
    const result = await marker.runOnce();
    console.log(progress.done(`${result.failed} failed, ${result.batches} batches`));
  }
  await reapAll(work.reapers, logger, true);
  return 0;
}

async function serve(
  sources: ReadySource[],
  names: NameGenerator,
  config: DesConfig,
  metrics: Registry,
  logger: Logger,
  opts: MarkArgs,
  work: Work,
  controller: AbortController,
): Promise<number> {
  const stop = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  const checks = Object.fromEntries(sources.map((s) => [s.table.source.name, databaseReady(s.db)]));
  const server = Deno.serve({
    port: opts.port,
    hostname: opts.host,
    signal: controller.signal,
    onListen: ({ port, hostname }) => logger.info("marker listening", { port, hostname }),
  }, markerApp(metrics, checks).fetch);
  const markers = (work.markers ? sources : []).map((s) =>
    makeMarker(s.table, names, config, {
      concurrency: opts.concurrency,
      metrics,
      logger,
      signal: controller.signal,
    })
  );
  try {
    while (!controller.signal.aborted) {
      for (const marker of markers) {
        if (controller.signal.aborted) break;
        try {
          await marker.runOnce();
        } catch (err) {
          logger.error("marking run failed; next try after the interval", { error: err as Error });
        }
      }
      if (!controller.signal.aborted) await reapAll(work.reapers, logger, false);
      await sleep(opts.intervalMs!, controller.signal);
    }
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    controller.abort();
    await server.finished;
  }
  logger.info(work.markers ? "marker stopped" : "reaper stopped");
  return 0;
}

/** Map an error to an exit status and print it (2 = usage or configuration, 1 = anything else). */
export function reportMarkError(e: unknown, command: RunMode = "mark"): number {
  const parseArgsError = String((e as { code?: string })?.code ?? "").startsWith("ERR_PARSE_ARGS");
  if (e instanceof DesConfigError || e instanceof DesInputError || parseArgsError) {
    const usage = command === "mark" ? MARK_USAGE : REAP_USAGE;
    console.error(`des ${command}: ${(e as Error).message}\nusage: ${usage}`);
    return 2;
  }
  console.error(`des ${command}: ${e instanceof DesError ? e.message : (e as Error)?.stack ?? e}`);
  return 1;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await markCommand(Deno.args);
  } catch (e) {
    code = reportMarkError(e);
  }
  Deno.exit(code);
}
