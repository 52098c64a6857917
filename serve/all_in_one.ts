/**
 * The all-in-one DES: marker, packer, retriever and gateway in one process,
 * the gateway calling the retriever in-process (no HTTP hop). On embedded
 * defaults it needs no service at all (filesystem store, embedded metadata
 * DB, Deno KV); with `DES_DATABASE_URL=postgres://…` and `DES_S3_*` it runs
 * on PostgreSQL and S3. `deno task serve` and `deno task demo` are thin
 * shells over {@linkcode startAllInOne}.
 *
 * @module
 */

import {
  auditLifecycleOf,
  byteCacheOf,
  type DesConfig,
  type EnvSource,
  indexCacheOf,
} from "../core/config.ts";
import { Logger, type LogLevel } from "../core/log.ts";
import { BufferedLogSink } from "../core/log_buffer.ts";
import { Registry } from "../core/metrics.ts";
import type { Db } from "../db/db.ts";
import { migrate } from "../db/migrate.ts";
import { openDb } from "../db/open_db.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { AuditMaintainer } from "../gateway/audit_maintainer.ts";
import { checkExposure, type GatewaySettings } from "../gateway/gateway_config.ts";
import { edgeOptions } from "../gateway/edge_options.ts";
import { InProcessRetrieverTarget } from "../gateway/in_process_target.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";
import { RoutingTable } from "../gateway/routing_table.ts";
import { statusPageApp } from "../gateway/status_page.tsx";
import type { RetrieverTarget } from "../gateway/target.ts";
import { Marker, type MarkRunResult } from "../mark/marker.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { type OpenedSources, openPackSources } from "../pack/pack_sources.ts";
import { Packer, type PackRunResult } from "../pack/packer.ts";
import { Reaper, type ReapResult } from "../mark/reaper.ts";
import { loadSources } from "../parent/sources.ts";
import { BucketStores } from "../retriever/bucket_stores.ts";
import { Retriever } from "../retriever/retriever.ts";
import { RetrieverMetrics } from "../retriever/metrics.ts";
import { statusCollector } from "../status/status_collector.ts";

/** Options of {@linkcode startAllInOne}. */
export interface AllInOneOptions {
  /** Validated settings (`loadConfig()`). */
  config: DesConfig;
  /** Gateway edge settings (API keys, rate limit, TLS, audit). */
  gateway: GatewaySettings;
  /** Path of the parent contract (`configs/sources.yaml`). */
  sourcesPath: string;
  /** Environment the sources' DSN variables are read from. */
  env: EnvSource;
  /** Listen address. */
  hostname: string;
  /** Listen port (0 = any free port). */
  port: number;
  /** Milliseconds between background mark passes; 0 = no background marking. */
  markIntervalMs: number;
  /** Milliseconds between background pack passes; 0 = no background packing. */
  packIntervalMs: number;
  /** Logger (default: component `serve`). */
  log?: Logger;
  /** Clock of the name generator (default `Date.now`); a fixed clock gives repeatable names. */
  nameClock?: () => number;
}

/** A running all-in-one DES. */
export interface AllInOne {
  /** Base URL of the HTTP server. */
  url: string;
  /** Mark every source once, now. */
  markOnce(): Promise<MarkRunResult[]>;
  /** Carry out the sources' deletion rules once, now (see `Reaper`). */
  reapOnce(): Promise<ReapResult[]>;
  /** Pack everything marked, now. */
  packOnce(): Promise<PackRunResult>;
  /** Reload the retriever's catalog now (it also follows commit notifications); returns the container count. */
  refreshCatalog(): Promise<number>;
  /** Stop loops and the server, close everything. */
  close(): Promise<void>;
}

/** Start marker, packer, retriever and gateway in this process. */
export async function startAllInOne(options: AllInOneOptions): Promise<AllInOne> {
  const { config } = options;
  // One line per request: written in batches (flushed last when closing, and at exit).
  const buffer = options.log ? undefined : new BufferedLogSink();
  const log = options.log ??
    new Logger("serve", { level: config.logLevel as LogLevel, sink: buffer!.sink });
  const registry = new Registry();
  const shardCount = 2 ** config.shardBits;
  const closers: (() => Promise<void> | void)[] = [];
  if (buffer) closers.push(() => buffer.close());
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  try {
    const sourceConfigs = await loadSources(options.sourcesPath, options.env);
    const db: Db = await openDb(config.databaseUrl, { applicationName: "des-serve" });
    closers.push(() => db.close());
    await migrate(db);
    const stores = BucketStores.fromConfig(config);
    closers.push(() => stores.close());
    const store = stores.storeFor(config.archiveBucket);
    const sources: OpenedSources = await openPackSources(sourceConfigs, {
      env: options.env,
      log,
      needs: { shardBits: config.shardBits, namePrefix: config.namePrefix, archiveUrl: store.url },
    });
    closers.push(() => sources.close());
    await store.ensureBucket();

    const names = new NameGenerator({
      nodeId: config.nodeId,
      shardBits: config.shardBits,
      prefix: config.namePrefix,
      clock: options.nameClock,
    });
    const markers = [...sources.byName.values()].map((s) =>
      new Marker({
        table: s.table,
        names,
        batchSize: config.markerBatchSize,
        metrics: registry,
        logger: log.child({ task: "mark", source: s.config.name }),
      })
    );
    const packer = new Packer({
      db,
      sources: [...sources.byName.values()],
      store,
      bucket: config.archiveBucket,
      shardBits: config.shardBits,
      workdir: config.packerWorkdir,
      rangeStart: 0,
      rangeEnd: shardCount - 1,
      bigFileThreshold: config.bigFileThreshold,
      deleteSources: config.deleteSources,
      originalReadTimeoutMs: config.originalReadTimeout,
      originalReadRetries: config.originalReadRetries,
      metrics: registry,
      logger: log.child({ task: "pack" }),
    });
    const retriever = await Retriever.start({
      id: "serve",
      range: { start: 0, end: shardCount - 1 },
      nameFormat: { shardBits: config.shardBits, prefix: config.namePrefix },
      db,
      storeFor: (bucket) => stores.storeFor(bucket),
      readinessBucket: config.archiveBucket,
      kvPath: config.kvPath,
      byteCache: byteCacheOf(config),
      ...indexCacheOf(config),
      readLogLevel: "debug",
      metrics: new RetrieverMetrics(registry),
      log: log.child({ task: "retrieve" }),
    });
    closers.push(() => retriever.close());

    const metrics = new GatewayMetrics(registry);
    const audit = options.gateway.audit ? new AuditTrail(db, { metrics, log }) : undefined;
    if (audit) closers.push(() => audit.close());
    if (audit) {
      const maintainer = new AuditMaintainer(db, { ...auditLifecycleOf(config), log });
      closers.push(() => maintainer.close());
    }
    const routing = RoutingTable.build<RetrieverTarget>(
      [new InProcessRetrieverTarget(retriever)],
      shardCount,
    );
    checkExposure(options.gateway, options.hostname);
    const app = createGatewayApp({
      routing,
      nameFormat: { shardBits: config.shardBits, prefix: config.namePrefix },
      ...edgeOptions(options.gateway),
      audit,
      names,
      metrics,
      log,
    });
    const status = statusCollector(db, options.sourcesPath, options.env, shardCount);
    closers.push(() => status.close());
    app.route(
      "/",
      statusPageApp({
        collect: status.collect,
        routing: () => routing,
        apiKeys: options.gateway.apiKeys,
        metricsText: () => registry.render(),
      }),
    );
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
      ...(options.gateway.tls ?? {}),
    }, app.fetch);
    closers.push(() => server.shutdown());
    const scheme = options.gateway.tls ? "https" : "http";
    const host = options.hostname === "0.0.0.0" ? "127.0.0.1" : options.hostname;
    const url = `${scheme}://${host}:${server.addr.port}`;

    const reapers = [...sources.byName.values()].filter((s) => s.table.hasDeletionRule).map((s) =>
      new Reaper({
        table: s.table,
        db,
        storeFor: (bucket) => stores.storeFor(bucket),
        nameFormat: { shardBits: config.shardBits, prefix: config.namePrefix },
        metrics: registry,
        logger: log.child({ task: "reap", source: s.config.name }),
      })
    );
    const reapOnce = async () => {
      const results: ReapResult[] = [];
      for (const r of reapers) results.push(await r.runOnce());
      return results;
    };
    // Deletes are reaped in the marker's loop, after marking.
    const markOnce = async () => {
      const results: MarkRunResult[] = [];
      for (const m of markers) results.push(await m.runOnce());
      await reapOnce();
      return results;
    };
    const packOnce = () => packer.runOnce();
    closers.push(loop("mark", options.markIntervalMs, markOnce, log));
    closers.push(loop("pack", options.packIntervalMs, packOnce, log));
    log.info("serve listening", { url, shards: shardCount, store: store.url, db: db.location });
    return {
      url,
      markOnce,
      reapOnce,
      packOnce,
      refreshCatalog: () => retriever.refreshCatalog(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Run `task` every `intervalMs` (never overlapping); returns the function that stops it. */
function loop(
  name: string,
  intervalMs: number,
  task: () => Promise<unknown>,
  log: Logger,
): () => Promise<void> {
  if (intervalMs <= 0) return () => Promise.resolve();
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    running = task()
      .catch((error) => log.error(`${name} pass failed`, { error }))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
