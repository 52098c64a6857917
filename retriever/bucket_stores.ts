/**
 * One {@linkcode ObjectStore} per bucket named in the catalog: S3 buckets
 * when `DES_S3_ENDPOINT` is set (GETs by {@linkcode S3FetchGetStore}, on
 * one pool of keep-alive HTTP/1.1 connections shared by every bucket, or by
 * `fetch` when spans are exported: it makes the S3 client spans),
 * directories under `DES_STORE_ROOT` otherwise. Stores are created on first
 * use and kept.
 *
 * @module
 */

import { join } from "node:path";
import type { DesConfig } from "../core/config.ts";
import { Http1Pool } from "../core/http1_client.ts";
import { TRACING } from "../core/spans.ts";
import { FsObjectStore } from "../store/fs.ts";
import type { ObjectStore, RequestHook } from "../store/object_store.ts";
import { S3ObjectStore } from "../store/s3.ts";
import { S3FetchGetStore } from "./s3_fetch_store.ts";

/** Stores by bucket. */
export class BucketStores {
  readonly #stores = new Map<string, ObjectStore>();
  readonly #make: (bucket: string) => ObjectStore;
  readonly #pool?: Http1Pool;

  /**
   * @param make creates the store of a bucket
   * @param pool connections the stores share, closed with them
   */
  constructor(make: (bucket: string) => ObjectStore, pool?: Http1Pool) {
    this.#make = make;
    this.#pool = pool;
  }

  /** Stores configured from `DES_S3_*` or `DES_STORE_ROOT`, reporting requests to `onRequest`. */
  static fromConfig(
    config: Pick<
      DesConfig,
      "s3Endpoint" | "s3Region" | "s3AccessKeyId" | "s3SecretAccessKey" | "storeRoot"
    >,
    onRequest?: RequestHook,
  ): BucketStores {
    if (config.s3Endpoint) {
      // With tracing on, `fetch` makes the S3 client spans; the pool makes none.
      const pool = TRACING ? undefined : new Http1Pool();
      const settings = {
        endpoint: config.s3Endpoint,
        region: config.s3Region,
        accessKeyId: config.s3AccessKeyId,
        secretAccessKey: config.s3SecretAccessKey,
        onRequest,
      };
      return new BucketStores(
        (bucket) =>
          new S3FetchGetStore(new S3ObjectStore({ ...settings, bucket }), {
            ...settings,
            bucket,
            pool,
          }),
        pool,
      );
    }
    return new BucketStores((bucket) =>
      new FsObjectStore(join(config.storeRoot, bucket), { onRequest })
    );
  }

  /** The store of `bucket`. */
  readonly storeFor = (bucket: string): ObjectStore => {
    let store = this.#stores.get(bucket);
    if (!store) {
      store = this.#make(bucket);
      this.#stores.set(bucket, store);
    }
    return store;
  };

  /** Close the stores that hold connections. */
  close(): void {
    for (const store of this.#stores.values()) {
      const inner = store instanceof S3FetchGetStore ? store.inner : store;
      if (inner instanceof S3ObjectStore) inner.close();
      // Cached read handles of a filesystem store: closed once their reads are done.
      if (inner instanceof FsObjectStore) inner.close();
    }
    this.#stores.clear();
    this.#pool?.close();
  }
}
