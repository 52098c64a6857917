/**
 * Where a DES name's bytes are stored: the visible container whose name
 * range covers it and whose INDEX lists it, found from the metadata DB and
 * one suffix read of each candidate container (no retriever needed).
 *
 * @module
 */

import { visibleContainersCovering } from "../db/containers.ts";
import type { DbQuery } from "../db/db.ts";
import { DesReader } from "../format/reader.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";

/** A name's stored copy. */
export interface StoredFile {
  /** Container id. */
  containerId: string;
  /** Bucket of the container (and of its big files). */
  bucket: string;
  /** Content size in bytes. */
  size: number;
  /** Object key of the content when it is a big file stored beside the container. */
  externalKey?: string;
}

/**
 * The stored copy of `name` in `shard`, or null when no visible container
 * holds it. Candidates are tried latest commit first.
 *
 * @param db metadata DB
 * @param storeFor the store of a catalog bucket
 */
export async function findStoredFile(
  db: DbQuery,
  storeFor: (bucket: string) => ObjectStore,
  name: string,
  shard: number,
): Promise<StoredFile | null> {
  for (const c of await visibleContainersCovering(db, shard, name)) {
    const store = storeFor(c.bucket);
    const source = new StoreRangeSource(store, c.key, {
      etag: c.etag ?? undefined,
      size: Number(c.size),
    });
    const reader = await DesReader.open(source, { bigFiles: store });
    const entry = reader.find(name);
    if (!entry) continue;
    const found: StoredFile = { containerId: c.containerId, bucket: c.bucket, size: entry.size };
    if (entry.external) found.externalKey = reader.meta(entry).externalKey;
    return found;
  }
  return null;
}
