/**
 * `deno task gateway [--port N] [--host H] [--routes FILE | --routes-from-db | --in-process]`:
 * the read API in front of the retrievers. The routing table comes from
 * `configs/retrievers.yaml` (default) or from the live registrations in
 * `des_retrievers`, and must own every shard exactly once or the gateway
 * refuses to start. `--in-process` runs one retriever for all shards inside
 * the gateway (single machine, no HTTP hop). Edge settings: see
 * `gateway_config.ts`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  auditLifecycleOf,
  byteCacheOf,
  type DesConfig,
  indexCacheOf,
  loadConfig,
  parseDuration,
} from "../core/config.ts";
import { DesConfigError, DesError } from "../core/errors.ts";
import { BufferedLogSink } from "../core/log_buffer.ts";
import { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { openDb } from "../db/open_db.ts";
import { BucketStores } from "../retriever/bucket_stores.ts";
import type { RetrieverRecord } from "../db/retriever_records.ts";
import { Retriever } from "../retriever/retriever.ts";
import { InProcessRetrieverTarget } from "./in_process_target.ts";
import { createGatewayApp } from "./app.ts";
import { AuditTrail } from "./audit.ts";
import { AuditMaintainer } from "./audit_maintainer.ts";
import { GatewayByteTier } from "./byte_tier.ts";
import { TierNames } from "./tier_names.ts";
import { checkExposure, loadGatewaySettings } from "./gateway_config.ts";
import { edgeOptions } from "./edge_options.ts";
import { HttpRetrieverTarget, type HttpTargetOptions } from "./http_target.ts";
import { allowedRecords, hopTargetOptions, loadRetrieverHopSettings } from "./retriever_hop.ts";
import { GatewayMetrics } from "./metrics.ts";
import { DEFAULT_ROUTES_FILE, loadRoutesFile, loadRoutesFromDb } from "./routes_config.ts";
import { RoutingTable } from "./routing_table.ts";
import { statusPageApp } from "./status_page.tsx";
import { statusCollector } from "../status/status_collector.ts";
import type { RetrieverTarget } from "./target.ts";

const USAGE = "usage: deno task gateway [--port N] [--host H] " +
  "[--routes FILE | --routes-from-db | --in-process] [--refresh 10s] [--sources FILE]";

/** Build a validated routing table of HTTP targets. */
export function httpRoutingTable(
  records: readonly RetrieverRecord[],
  shardCount: number,
  options: HttpTargetOptions = {},
): RoutingTable<RetrieverTarget> {
  const targets = records.map((r) => new HttpRetrieverTarget(r.id, r.url, r.range, options));
  return RoutingTable.build<RetrieverTarget>(targets, shardCount);
}

/** Run the gateway until SIGINT/SIGTERM. Returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      routes: { type: "string" },
      "routes-from-db": { type: "boolean", default: false },
      "in-process": { type: "boolean", default: false },
      refresh: { type: "string", default: "10s" },
      sources: { type: "string", default: "configs/sources.yaml" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const sources = [values.routes, values["routes-from-db"], values["in-process"]].filter((v) => v);
  if (sources.length > 1) {
    throw new DesConfigError(
      `--routes, --routes-from-db and --in-process exclude each other\n${USAGE}`,
    );
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DesConfigError(`--port must be 0..65535, got ${values.port}`);
  }
  const config = loadConfig();
  const settings = await loadGatewaySettings();
  checkExposure(settings, values.host);
  const hop = await loadRetrieverHopSettings();
  const hopOptions = hopTargetOptions(hop);
  // One line per request: written in batches (flushed when stopping, and at exit).
  const buffer = new BufferedLogSink();
  const log = new Logger("gateway", { level: config.logLevel as "info", sink: buffer.sink });
  const shardCount = 2 ** config.shardBits;
  const fromDb = values["routes-from-db"];
  const inProcess = values["in-process"];
  // A routing file is read and validated before anything else is touched.
  const fromFile = fromDb || inProcess ? undefined : httpRoutingTable(
    await loadRoutesFile(values.routes ?? DEFAULT_ROUTES_FILE),
    shardCount,
    hopOptions,
  );
  // The byte tier follows deletes and damage in the metadata DB (an in-process retriever needs none).
  const tiered = settings.cacheBytes > 0 && !inProcess;
  let db: Db | undefined;
  if (settings.audit || fromDb || inProcess || tiered) {
    db = await openDb(config.databaseUrl, { applicationName: "des-gateway" });
  }
  let local: { retriever: Retriever; stores: BucketStores } | undefined;
  let table: RoutingTable<RetrieverTarget>;
  if (fromFile) {
    table = fromFile;
  } else if (inProcess) {
    local = await startLocalRetriever(config, db!, log);
    table = RoutingTable.build<RetrieverTarget>(
      [new InProcessRetrieverTarget(local.retriever)],
      shardCount,
    );
  } else {
    table = httpRoutingTable(
      allowedRecords(await loadRoutesFromDb(db!), hop.allowedUrls, log),
      shardCount,
      hopOptions,
    );
  }
  let refresher: ReturnType<typeof setInterval> | undefined;
  if (fromDb) {
    refresher = setInterval(async () => {
      try {
        table = httpRoutingTable(
          allowedRecords(await loadRoutesFromDb(db!), hop.allowedUrls, log),
          shardCount,
          hopOptions,
        );
      } catch (error) {
        log.warn("routing table from des_retrievers is invalid; keeping the previous one", {
          error,
        });
      }
    }, parseDuration(values.refresh));
  }
  const metrics = new GatewayMetrics();
  const tierNames = tiered
    ? new TierNames(db!, { range: { start: 0, end: shardCount - 1 }, log })
    : undefined;
  const tier = tierNames
    ? new GatewayByteTier({
      maxBytes: settings.cacheBytes,
      guard: tierNames,
      registry: metrics.registry,
    })
    : undefined;
  // Until both name sets are loaded the tier serves nothing; reads go to the retrievers.
  tierNames?.start().catch((error) =>
    log.error("cannot follow deletes and damage: the gateway byte tier stays off", { error })
  );
  const audit = settings.audit && db ? new AuditTrail(db, { metrics, log }) : undefined;
  const maintainer = audit && db
    ? new AuditMaintainer(db, { ...auditLifecycleOf(config), log })
    : undefined;
  const app = createGatewayApp({
    routing: () => table,
    nameFormat: { shardBits: config.shardBits, prefix: config.namePrefix },
    ...edgeOptions(settings),
    audit,
    metrics,
    log,
    tier,
  });
  // GET /status needs the metadata DB (opened for the audit trail or the routes).
  const status = db ? statusCollector(db, values.sources, Deno.env, shardCount) : undefined;
  if (status) {
    app.route(
      "/",
      statusPageApp({
        collect: status.collect,
        routing: () => table,
        apiKeys: settings.apiKeys,
        metricsText: () => metrics.registry.render(),
      }),
    );
  }
  const server = Deno.serve({
    hostname: values.host,
    port,
    onListen: () => {},
    ...(settings.tls ?? {}),
  }, app.fetch);
  const scheme = settings.tls ? "https" : "http";
  log.info("gateway listening", {
    url: `${scheme}://${values.host}:${server.addr.port}`,
    port: server.addr.port,
    retrievers: table.owners.map((o) => o.id),
    auth: settings.apiKeys.length > 0,
    rateLimit: settings.rateLimit ?? null,
    addressRateLimit: settings.addressRateLimit ?? null,
    audit: audit ? (settings.auditRequired ? "required" : "best-effort") : "off",
    byteTier: tier ? settings.cacheBytes : 0,
  });

  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
  await stop.promise;
  log.info("gateway stopping");
  clearInterval(refresher);
  await server.shutdown();
  await tierNames?.close();
  await maintainer?.close();
  await audit?.close();
  await status?.close();
  await local?.retriever.close();
  local?.stores.close();
  hopOptions.pool?.close();
  hopOptions.client.close();
  await db?.close();
  buffer.close();
  return 0;
}

/** A retriever for every shard, in this process (`--in-process`: no HTTP hop). */
async function startLocalRetriever(
  config: DesConfig,
  db: Db,
  log: Logger,
): Promise<{ retriever: Retriever; stores: BucketStores }> {
  const stores = BucketStores.fromConfig(config);
  const retriever = await Retriever.start({
    id: "in-process",
    range: { start: 0, end: 2 ** config.shardBits - 1 },
    nameFormat: { shardBits: config.shardBits, prefix: config.namePrefix },
    db,
    storeFor: stores.storeFor,
    readinessBucket: config.archiveBucket,
    kvPath: config.kvPath,
    byteCache: byteCacheOf(config),
    ...indexCacheOf(config),
    readLogLevel: "debug",
    log: log.child({ component: "retriever" }),
  });
  return { retriever, stores };
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    const e = error instanceof DesError ? error : undefined;
    new Logger("gateway").error(e?.message ?? String(error), { code: e?.code, error });
    Deno.exit(e instanceof DesConfigError ? 2 : 1);
  }
}
