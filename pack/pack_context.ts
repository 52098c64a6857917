/**
 * What the packer's container steps and recovery share: the catalog, the
 * archive store, the sources, the settings that change behaviour, and the
 * observers (log, metrics, transition hook).
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import type { ContainerState } from "../db/container_states.ts";
import type { Db } from "../db/db.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { PackerMetrics } from "./packer_metrics.ts";
import type { PackSource } from "./pack_sources.ts";

/** Called after each write-ahead transition has been committed to the catalog. */
export type TransitionHook = (state: ContainerState, containerId: string) => void;

/** Shared dependencies of packing and recovery. */
export interface PackContext {
  /** DES metadata database. */
  db: Db;
  /** Archive store (`DES_ARCHIVE_BUCKET`). */
  store: ObjectStore;
  /** Bucket name recorded in the catalog. */
  bucket: string;
  /** `DES_SHARD_BITS`. */
  shardBits: number;
  /** Sources by name. */
  sources: Map<string, PackSource>;
  /** Delete originals once their container is committed and the parent updated. */
  deleteSources: boolean;
  /** Local directory for containers being built (also cleaned by recovery). */
  workdir: string;
  /** Worker id written as lease and container owner. */
  owner: string;
  /** Log lines. */
  log: Logger;
  /** Metrics. */
  metrics: PackerMetrics;
  /** Fault injection and test observation. */
  onTransition: TransitionHook;
  /** Rows per parent update statement. */
  parentBatchSize: number;
  /** Originals deleted at once. */
  deleteConcurrency: number;
}
