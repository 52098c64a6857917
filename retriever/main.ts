/**
 * `deno task retriever --range A-B [--port N] [--host H] [--id ID] [--url URL] [--no-register]`:
 * a retriever serving shards A..B over HTTP. Configuration comes from the
 * `DES_*` environment (see README); `--port 0` picks a free port, which is
 * logged in the `retriever listening` line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { byteCacheOf, indexCacheOf, loadConfig } from "../core/config.ts";
import { DesConfigError, DesError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { openDb } from "../db/open_db.ts";
import { createRetrieverApp } from "./app.ts";
import { BucketStores } from "./bucket_stores.ts";
import { RetrieverRegistration } from "./registration.ts";
import { checkExposure, loadRetrieverSettings } from "./retriever_config.ts";
import { Retriever } from "./retriever.ts";
import { formatShardRange, parseShardRange } from "../naming/shard_range.ts";

const USAGE =
  "usage: deno task retriever --range A-B [--port N] [--host H] [--id ID] [--url URL] [--no-register]";

/** Run a retriever until SIGINT/SIGTERM. Returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      range: { type: "string" },
      port: { type: "string", default: "8101" },
      host: { type: "string", default: "127.0.0.1" },
      id: { type: "string" },
      url: { type: "string" },
      "no-register": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.range) throw new DesConfigError(`--range is required\n${USAGE}`);
  const config = loadConfig();
  const settings = await loadRetrieverSettings();
  checkExposure(values.host, settings);
  const log = new Logger("retriever", { level: config.logLevel as "info" });
  const range = parseShardRange(values.range, 2 ** config.shardBits);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DesConfigError(`--port must be 0..65535, got ${values.port}`);
  }
  const id = values.id ?? `retriever-${formatShardRange(range)}`;
  const db = await openDb(config.databaseUrl, { applicationName: `des-${id}` });
  const stores = BucketStores.fromConfig(config);
  const retriever = await Retriever.start({
    id,
    range,
    nameFormat: { shardBits: config.shardBits, prefix: config.namePrefix },
    db,
    storeFor: stores.storeFor,
    readinessBucket: config.archiveBucket,
    kvPath: config.kvPath,
    byteCache: byteCacheOf(config),
    ...indexCacheOf(config),
    log,
  });
  const app = createRetrieverApp(retriever, { token: settings.token });
  const server = Deno.serve(
    { hostname: values.host, port, onListen: () => {}, ...(settings.tls ?? {}) },
    app.fetch,
  );
  const scheme = settings.tls ? "https" : "http";
  const url = values.url ?? `${scheme}://${values.host}:${server.addr.port}`;
  const registration = values["no-register"]
    ? undefined
    : await RetrieverRegistration.start(db, { id, url, range }, { log });
  log.info("retriever listening", {
    url,
    port: server.addr.port,
    token: !!settings.token,
    tls: !!settings.tls,
  });

  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
  await stop.promise;
  log.info("retriever stopping");
  await registration?.close().catch((error) => log.warn("could not deregister", { error }));
  await server.shutdown();
  await retriever.close();
  stores.close();
  await db.close();
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    const e = error instanceof DesError ? error : undefined;
    new Logger("retriever").error(e?.message ?? String(error), { code: e?.code, error });
    Deno.exit(e instanceof DesConfigError ? 2 : 1);
  }
}
