/**
 * Resolve a container argument (`/local/path.des` or `s3://bucket/key`) to
 * an open {@linkcode DesReader}, or to a sink to write a new container to.
 *
 * @module
 */

import { DesReader } from "../format/mod.ts";
import { parseLocalLocation } from "../store/local_location.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** A container opened for reading. */
export interface OpenedContainer {
  /** The reader. */
  reader: DesReader;
  /** The store the container lives in (big files are read from it too). */
  store: ObjectStore;
  /** The container's key in that store. */
  key: string;
}

/** Open the container at `location` (local path or `s3://bucket/key`). */
export async function openContainer(location: string): Promise<OpenedContainer> {
  // The S3 client is loaded only for s3:// locations: local tools start faster.
  const { store, key } = location.startsWith("s3://")
    ? (await import("../store/location.ts")).parseLocation(location)
    : parseLocalLocation(location);
  const reader = await DesReader.open(new StoreRangeSource(store, key), { bigFiles: store });
  return { reader, store, key };
}

/** Key prefix under which a container's big files are written: the container's own folder. */
export function bigFilePrefix(key: string): string {
  const slash = key.lastIndexOf("/");
  return slash < 0 ? "" : key.slice(0, slash + 1);
}
