/**
 * {@linkcode deleteName}: the one way a DES name is deleted, shared by the
 * parent's deletion rule (the reaper) and `DELETE /files/<name>`. It writes
 * the tombstone (from then on every read answers 410 Gone) and counts the
 * file's bytes as dead in the container that holds them; compaction erases
 * them later. A big file stored beside its container is deleted at once, in
 * the tombstone's transaction, and the tombstone is marked erased.
 *
 * @module
 */

import { DesConflictError } from "../core/errors.ts";
import { shardPackingInFlight } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import {
  addTombstone,
  getTombstone,
  markErased,
  type NewTombstone,
  type TombstoneOrigin,
} from "../db/tombstones.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { findStoredFile } from "./stored_file.ts";

/** How the bytes of a big file left storage (`erased_by`). */
export const ERASED_BIG_FILE = "big-file-deleted";

/** `erased_by` of a name that was never packed: nothing was stored. */
export const ERASED_NOT_STORED = "not-stored";

/** What {@linkcode deleteName} needs. */
export interface DeleteDeps {
  /** Metadata DB. */
  db: Db;
  /** The store of a catalog bucket. */
  storeFor: (bucket: string) => ObjectStore;
}

/** One delete. */
export interface DeleteRequest {
  /** The DES name. */
  name: string;
  /** Its shard. */
  shard: number;
  /** Parent deletion rule or HTTP API. */
  origin: TombstoneOrigin;
  /** Source name or API key id. */
  actor?: string;
  /**
   * A name no container holds: `tombstone` it anyway as never stored (a
   * parent row that was marked but not packed) — or `pending` while a
   * packer may be writing its shard — or report it `unknown`.
   */
  notStored: "tombstone" | "unknown";
}

/** What a delete did. */
export type DeleteOutcome =
  /** A new tombstone; `containerId` held the bytes (absent: never stored). */
  | { kind: "deleted"; containerId?: string; bytes: number; erased: boolean }
  /** The name was tombstoned before: nothing changed. */
  | { kind: "already" }
  /** No container holds the name and `notStored` was `unknown`. */
  | { kind: "unknown" }
  /** No visible container holds the name yet, but its shard is being packed: ask again later. */
  | { kind: "pending" };

/**
 * Delete `request.name`: idempotent (a tombstoned name is `already`), and
 * safe to repeat after a failure (nothing is written unless the whole
 * delete, big-file object included, succeeded).
 */
export async function deleteName(deps: DeleteDeps, request: DeleteRequest): Promise<DeleteOutcome> {
  for (let attempt = 1;; attempt++) {
    try {
      return await deleteOnce(deps, request);
    } catch (error) {
      // The holder was replaced by compaction between lookup and tombstone: look again.
      if (!(error instanceof DesConflictError) || attempt >= HOLDER_LOOKUPS) throw error;
    }
  }
}

/** How often a delete looks the name's holder up before it gives up. */
const HOLDER_LOOKUPS = 3;

async function deleteOnce(deps: DeleteDeps, request: DeleteRequest): Promise<DeleteOutcome> {
  if (await getTombstone(deps.db, request.name)) return { kind: "already" };
  const stored = await findStoredFile(deps.db, deps.storeFor, request.name, request.shard);
  if (!stored && request.notStored === "unknown") return { kind: "unknown" };
  // Tombstoned as never stored, its bytes could still land in a container being written.
  if (!stored && await shardPackingInFlight(deps.db, request.shard)) return { kind: "pending" };
  const stone: NewTombstone = {
    name: request.name,
    shard: request.shard,
    origin: request.origin,
    actor: request.actor,
  };
  if (stored) {
    stone.containerId = stored.containerId;
    // A big file's bytes are not in the container: it gains a dead entry, not dead bytes.
    stone.bytes = stored.externalKey ? 0 : stored.size;
  }
  const erasedBy = !stored ? ERASED_NOT_STORED : stored.externalKey ? ERASED_BIG_FILE : undefined;
  const added = await deps.db.transaction(async (tx) => {
    if (!await addTombstone(tx, stone)) return false;
    if (stored?.externalKey) await deps.storeFor(stored.bucket).delete(stored.externalKey);
    if (erasedBy) await markErased(tx, request.name, erasedBy);
    return true;
  });
  if (!added) return { kind: "already" };
  return {
    kind: "deleted",
    containerId: stone.containerId,
    bytes: stone.bytes ?? 0,
    erased: erasedBy !== undefined,
  };
}
