/**
 * The DES storage layer: the {@linkcode ObjectStore} interface and its S3,
 * filesystem and in-memory implementations, object locations, and a
 * {@linkcode RangeSource} over a stored object.
 *
 * @example
 * ```ts
 * import { parseLocation, StoreRangeSource } from "./mod.ts";
 * const { store, key } = parseLocation("/tmp/example.des");
 * const source = new StoreRangeSource(store, key);
 * ```
 *
 * @module
 */

export * from "./object_store.ts";
export { FsObjectStore, type FsObjectStoreOptions } from "./fs.ts";
export { MemoryObjectStore, type MemoryObjectStoreOptions } from "./memory.ts";
export {
  type EnvReader,
  MAX_PART_SIZE,
  MIN_PART_SIZE,
  S3ObjectStore,
  type S3ObjectStoreOptions,
} from "./s3.ts";
export { type ObjectLocation, parseLocation } from "./location.ts";
export { StoreRangeSource, type StoreRangeSourceOptions } from "./range_source.ts";
export { DesRangeNotSatisfiableError, type ResolvedRange, resolveRange } from "./range.ts";
export { compareKeys, validateKey } from "./keys.ts";
