/**
 * A world for gateway tests over real HTTP: a migrated PostgreSQL database,
 * a fresh bucket on the test RGW holding one committed container, one
 * retriever in this process over the 16 shards of the test name format, a
 * routing table of it, and HTTP servers on free loopback ports. Everything
 * is shut down and removed afterwards.
 *
 * @module
 */

import { commitContainer, type FixtureFile, startTestRetriever } from "./archive_fixture.ts";
import { createTestDatabase, type TestDatabase } from "./pg.ts";
import { removeTestS3Store, testS3Store } from "./s3.ts";
import { Logger } from "../../core/log.ts";
import { InProcessRetrieverTarget } from "../../gateway/in_process_target.ts";
import { RoutingTable } from "../../gateway/routing_table.ts";
import type { RetrieverTarget } from "../../gateway/target.ts";
import type { Retriever, RetrieverOptions } from "../../retriever/retriever.ts";
import type { S3ObjectStore } from "../../store/s3.ts";

/** Options of {@linkcode withGatewayWorld}. */
export interface GatewayWorldOptions {
  /** Prefix of the bucket's name. */
  prefix: string;
  /** Id of the retriever. */
  retrieverId: string;
  /** Shard of the one committed container. */
  shard: number;
  /** Files of that container. */
  files: FixtureFile[];
  /** Settings of the retriever beyond the world's (default: a silent log). */
  retriever?: Partial<RetrieverOptions>;
}

/** What {@linkcode withGatewayWorld} hands a test. */
export interface GatewayWorld {
  /** The metadata database (migrated). */
  pg: TestDatabase;
  /** The bucket. */
  store: S3ObjectStore;
  /** The retriever, in this process. */
  retriever: Retriever;
  /** A routing table over the test format's shards: the retriever, in process. */
  routing: RoutingTable<RetrieverTarget>;
  /** Serve `handler` on a free loopback port until the end; returns its base URL. */
  serve(handler: Deno.ServeHandler<Deno.NetAddr>): string;
  /** Shut the servers down now, once their responses in flight are done. */
  shutdown(): Promise<void>;
  /** Run `cleanup` at the end, once the servers are shut down and before the retriever closes. */
  atEnd(cleanup: () => Promise<void>): void;
}

/** Run `fn` in a fresh {@linkcode GatewayWorld}. */
export async function withGatewayWorld(
  options: GatewayWorldOptions,
  fn: (world: GatewayWorld) => Promise<void>,
): Promise<void> {
  const pg = await createTestDatabase({ migrate: true });
  const store = await testS3Store(options.prefix);
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const shutdown = async () => {
    for (const s of servers.splice(0)) await s.shutdown();
  };
  let retriever: Retriever | undefined;
  try {
    await commitContainer(pg.db, store, {
      shard: options.shard,
      files: options.files,
      bucket: store.bucket,
    });
    retriever = await startTestRetriever(pg.db, store, {
      id: options.retrieverId,
      log: new Logger("retriever", { sink: () => {} }),
      ...options.retriever,
    });
    const routing = RoutingTable.build<RetrieverTarget>(
      [new InProcessRetrieverTarget(retriever)],
      16,
    );
    const serve = (handler: Deno.ServeHandler<Deno.NetAddr>) => {
      const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
      servers.push(s);
      return `http://127.0.0.1:${s.addr.port}`;
    };
    const atEnd = (cleanup: () => Promise<void>) => void cleanups.push(cleanup);
    await fn({ pg, store, retriever, routing, serve, shutdown, atEnd });
  } finally {
    await shutdown();
    for (const cleanup of cleanups) await cleanup();
    await retriever?.close();
    await removeTestS3Store(store);
    await pg.drop();
  }
}
