/**
 * A world for read-path tests that count S3 requests: a migrated PostgreSQL
 * database, a fresh bucket on the test RGW whose every request is counted,
 * a fetch-based read store counted the same way, a temp directory and a
 * name source. Everything is removed afterwards.
 *
 * @module
 */

import { fetchGetStore, NameSource } from "./archive_fixture.ts";
import { createTestDatabase, type TestDatabase } from "./pg.ts";
import { removeTestS3Store, testS3Store } from "./s3.ts";
import { type ObjectStore, RequestCounter } from "../../store/object_store.ts";
import type { S3ObjectStore } from "../../store/s3.ts";

/** What {@linkcode withCountedWorld} hands a test. */
export interface CountedWorld {
  /** The metadata database (migrated). */
  pg: TestDatabase;
  /** The bucket, counted. */
  store: S3ObjectStore;
  /** What a retriever reads through: GETs by fetch, counted like the store's requests. */
  reads: ObjectStore;
  /** Every S3 request of `store` and `reads`. */
  counter: RequestCounter;
  /** A temp directory (KV files, cache directories). */
  dir: string;
  /** Names of the test format. */
  names: NameSource;
}

/** Run `fn` in a fresh {@linkcode CountedWorld}; `prefix` names its bucket and directory. */
export async function withCountedWorld(
  prefix: string,
  fn: (world: CountedWorld) => Promise<void>,
): Promise<void> {
  const counter = new RequestCounter();
  const pg = await createTestDatabase({ migrate: true });
  const store = await testS3Store(prefix, { onRequest: counter.hook });
  const dir = await Deno.makeTempDir({ prefix: `des-${prefix}-` });
  try {
    const reads = fetchGetStore(store, counter.hook);
    await fn({ pg, store, reads, counter, dir, names: new NameSource() });
  } finally {
    await removeTestS3Store(store);
    await pg.drop();
    await Deno.remove(dir, { recursive: true });
  }
}
