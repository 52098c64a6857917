/**
 * Test archives for the read path: names in chosen shards, containers
 * written with `DesWriter` to a store and committed in the catalog exactly
 * as the packer does (building → uploaded → verified → committed, which
 * fires the commit NOTIFY).
 *
 * @module
 */

import { setContainerState } from "../../db/containers.ts";
import { createContainer } from "../../db/containers.ts";
import type { Db, DbQuery } from "../../db/db.ts";
import { DesWriter } from "../../format/writer.ts";
import { NameGenerator } from "../../naming/name_generator.ts";
import { type NameFormat, shardOf } from "../../naming/mod.ts";
import type { ObjectStore, RequestHook } from "../../store/object_store.ts";
import type { S3ObjectStore } from "../../store/s3.ts";
import { S3FetchGetStore } from "../../retriever/s3_fetch_store.ts";
import { Retriever, type RetrieverOptions } from "../../retriever/retriever.ts";

/** Name format of read-path tests: 16 shards, no prefix. */
export const TEST_NAME_FORMAT: NameFormat = { shardBits: 4, prefix: "" };

/** Hands out fresh, valid names in the shard you ask for. */
export class NameSource {
  readonly #generator: NameGenerator;
  readonly #format: NameFormat;
  readonly #spare = new Map<number, string[]>();

  /** @param format shard bits and prefix @param nodeId generator node id */
  constructor(format: NameFormat = TEST_NAME_FORMAT, nodeId = 7) {
    this.#format = format;
    this.#generator = new NameGenerator({ ...format, nodeId });
  }

  /** A new name whose shard is `shard`. */
  inShard(shard: number): string {
    const spare = this.#spare.get(shard);
    if (spare?.length) return spare.shift()!;
    for (;;) {
      const name = this.#generator.next();
      const s = shardOf(name, this.#format);
      if (s === shard) return name;
      const list = this.#spare.get(s) ?? [];
      if (list.length < 64) list.push(name);
      this.#spare.set(s, list);
    }
  }

  /** `count` new names in `shard`, in increasing order. */
  manyInShard(shard: number, count: number): string[] {
    return Array.from({ length: count }, () => this.inShard(shard)).sort();
  }

  /** `count` files in `shard` of `size` bytes each, file `i` seeded with `i`. */
  filesInShard(shard: number, count: number, size: number): FixtureFile[] {
    return this.manyInShard(shard, count).map((name, i) => ({
      name,
      bytes: fixtureBytes(size, i),
    }));
  }
}

/** A file to put in a container. */
export interface FixtureFile {
  /** DES name. */
  name: string;
  /** Content. */
  bytes: Uint8Array;
  /** Content type recorded in meta. */
  contentType?: string;
  /** Modification time (ms) recorded in meta. */
  mtime?: number;
  /** Parent source recorded in meta. */
  source?: string;
  /** Parent attributes recorded in meta. */
  attrs?: Record<string, string>;
}

/** A container written and committed by {@linkcode commitContainer}. */
export interface CommittedFixture {
  /** Container id. */
  containerId: string;
  /** Object key. */
  key: string;
  /** Object ETag. */
  etag: string;
  /** Size in bytes. */
  size: number;
  /** Shard. */
  shard: number;
}

/** Options of {@linkcode commitContainer}. */
export interface CommitOptions {
  /** Shard of every file. */
  shard: number;
  /** Files (any order). */
  files: FixtureFile[];
  /** Bucket name recorded in the catalog. */
  bucket: string;
  /** Files above this size become big files (default: format default). */
  bigFileThreshold?: number;
  /** Record no ETag in the catalog (as an older packer might). */
  withoutEtag?: boolean;
  /** Stop before `committed` (the container stays invisible). */
  state?: "verified" | "committed";
}

/** Write a container of `files` to `store` and commit it in the catalog of `db`. */
export async function commitContainer(
  db: DbQuery,
  store: ObjectStore,
  options: CommitOptions,
): Promise<CommittedFixture> {
  const files = [...options.files].sort((a, b) => (a.name < b.name ? -1 : 1));
  const containerId = Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const shardHex = options.shard.toString(16).padStart(4, "0");
  const key = `containers/${shardHex}/${containerId}.des`;
  const writer = await DesWriter.create(await store.createWriter(key), {
    shard: options.shard,
    source: "test",
    containerId,
    bigFileThreshold: options.bigFileThreshold,
    bigFiles: { store, prefix: `containers/${shardHex}/` },
  });
  for (const f of files) {
    await writer.add(f.name, f.bytes, {
      contentType: f.contentType,
      mtime: f.mtime,
      source: f.source,
      attrs: f.attrs,
    });
  }
  const summary = await writer.finish();
  const info = await store.head(key);
  if (!info) throw new Error(`container ${key} is missing after upload`);
  await createContainer(db, {
    containerId,
    shard: options.shard,
    source: "test",
    bucket: options.bucket,
    key,
  });
  await setContainerState(db, containerId, "building", "uploaded", {
    size: summary.size,
    etag: options.withoutEtag ? undefined : info.etag,
  });
  await setContainerState(db, containerId, "uploaded", "verified", {
    fileCount: summary.entryCount,
    dataBytes: summary.dataBytes,
    firstName: summary.firstName,
    lastName: summary.lastName,
    indexCrc32c: summary.indexCrc32c,
    footerCrc32c: summary.footerCrc32c,
  });
  if ((options.state ?? "committed") === "committed") {
    await setContainerState(db, containerId, "verified", "committed");
  }
  return { containerId, key, etag: info.etag, size: summary.size, shard: options.shard };
}

/** `length` deterministic pseudo-random bytes. */
export function fixtureBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The read path's fetch-based GET over a test S3 store (as `BucketStores` builds it). */
export function fetchGetStore(inner: S3ObjectStore, onRequest?: RequestHook): S3FetchGetStore {
  return new S3FetchGetStore(inner, {
    endpoint: Deno.env.get("DES_TEST_S3_ENDPOINT") ?? "",
    region: Deno.env.get("DES_TEST_S3_REGION") || "us-east-1",
    accessKeyId: Deno.env.get("DES_TEST_S3_ACCESS_KEY_ID") ?? "",
    secretAccessKey: Deno.env.get("DES_TEST_S3_SECRET_ACCESS_KEY") ?? "",
    bucket: inner.bucket,
    onRequest,
  });
}

/** Options of {@linkcode startTestRetriever}: everything but what the archive fixes. */
export type TestRetrieverOptions =
  & Omit<RetrieverOptions, "range" | "nameFormat" | "db" | "storeFor" | "readinessBucket">
  & {
    /** The store reads go through (default `store` itself). */
    reads?: ObjectStore;
  };

/**
 * A retriever of all 16 shards of a {@linkcode TEST_NAME_FORMAT} archive in
 * `store`, its catalog in `db`, never polling it (`catalogRefreshMs` 0)
 * unless `options` says otherwise.
 */
export function startTestRetriever(
  db: Db,
  store: S3ObjectStore,
  options: TestRetrieverOptions,
): Promise<Retriever> {
  const { reads = store, ...rest } = options;
  return Retriever.start({
    range: { start: 0, end: 15 },
    nameFormat: TEST_NAME_FORMAT,
    db,
    storeFor: () => reads,
    readinessBucket: store.bucket,
    catalogRefreshMs: 0,
    ...rest,
  });
}
