/**
 * Tombstones: the record of deleted DES names. A tombstoned name answers
 * 410 Gone; its bytes count as dead bytes of the container that holds them
 * until compaction rewrites that container and the old object is deleted
 * (then `erasedAt` is set). See docs/lifecycle.md.
 *
 * @module
 */

import { DesConflictError } from "../core/errors.ts";
import { VISIBLE_STATES } from "./container_states.ts";
import type { DbQuery } from "./db.ts";

/** The NOTIFY channel on which new tombstones are announced (`{"shard","name"}`). */
export const TOMBSTONE_CHANNEL = "des_tombstone";

/** Who asked for a delete. */
export type TombstoneOrigin = "parent" | "api";

/** A delete to record. */
export interface NewTombstone {
  /** The DES name. */
  name: string;
  /** Its shard. */
  shard: number;
  /** The parent's deletion rule or the HTTP API. */
  origin: TombstoneOrigin;
  /** Parent source name (origin parent) or API key id (origin api). */
  actor?: string;
  /** Container holding the bytes, when the name was packed. */
  containerId?: string;
  /** Stored size of the file in that container (0 when not packed). */
  bytes?: number;
}

/** A recorded delete. */
export interface Tombstone {
  /** The DES name. */
  name: string;
  /** Its shard. */
  shard: number;
  /** Who asked. */
  origin: TombstoneOrigin;
  /** Source or key id. */
  actor: string | null;
  /** Container that held the bytes at delete time. */
  containerId: string | null;
  /** Bytes counted as dead. */
  bytes: number;
  /** When the delete was recorded. */
  deletedAt: Date;
  /** When the last stored copy of the bytes was deleted. */
  erasedAt: Date | null;
  /** How the bytes left storage. */
  erasedBy: string | null;
  /** When the parent row moved to its purged status. */
  purgedAt: Date | null;
}

const COLUMNS = `name, shard, origin, actor, container_id as "containerId", bytes,
  deleted_at as "deletedAt", erased_at as "erasedAt", erased_by as "erasedBy",
  purged_at as "purgedAt"`;

/**
 * Record a delete and add its bytes to the container's dead bytes, in the
 * caller's transaction. Idempotent: a name already tombstoned is left as it
 * is. Returns whether a new tombstone was written. Throws
 * `DesConflictError` (the caller rolls back and looks the name up again)
 * when `containerId` stopped being visible, e.g. compaction replaced it.
 *
 * @example
 * ```ts ignore
 * await db.transaction((tx) =>
 *   addTombstone(tx, { name, shard, origin: "api", actor: "ops", containerId, bytes: 4096 })
 * );
 * ```
 */
export async function addTombstone(tx: DbQuery, t: NewTombstone): Promise<boolean> {
  const inserted = await tx.query<{ name: string }>(
    `insert into des_tombstones (name, shard, origin, actor, container_id, bytes)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (name) do nothing
     returning name`,
    [t.name, t.shard, t.origin, t.actor ?? null, t.containerId ?? null, t.bytes ?? 0],
  );
  if (inserted.length === 0) return false;
  if (t.containerId) {
    // Only a visible container may take the dead bytes: one that compaction retired meanwhile
    // (its row lock makes this update wait for the switch, then re-check the state) no longer
    // holds the only copy, and a tombstone on it would be marked erased with the bytes still
    // stored in its replacement.
    const counted = await tx.query(
      `update des_containers
         set dead_files = dead_files + 1, dead_bytes = dead_bytes + $2, updated_at = now()
       where container_id = $1 and state = any($3::text[])
       returning 1`,
      [t.containerId, t.bytes ?? 0, VISIBLE_STATES],
    );
    if (counted.length === 0) {
      throw new DesConflictError(
        `container ${t.containerId} is no longer visible; look the name up again`,
        { name: t.name, containerId: t.containerId },
      );
    }
  }
  return true;
}

/** The tombstone of `name`, or null. */
export async function getTombstone(db: DbQuery, name: string): Promise<Tombstone | null> {
  const rows = await db.query<Tombstone>(
    `select ${COLUMNS} from des_tombstones where name = $1`,
    [name],
  );
  return rows[0] ? { ...rows[0], bytes: Number(rows[0].bytes) } : null;
}

/**
 * The tombstones of `names` (those that have one), by name: one query for a
 * batch of parent rows.
 */
export async function tombstonesOf(
  db: DbQuery,
  names: readonly string[],
): Promise<Map<string, Tombstone>> {
  if (names.length === 0) return new Map();
  const rows = await db.query<Tombstone>(
    `select ${COLUMNS} from des_tombstones where name = any($1::text[])`,
    [[...names]],
  );
  return new Map(rows.map((r) => [r.name, { ...r, bytes: Number(r.bytes) }]));
}

/**
 * Record that the last stored copy of `name`'s bytes is gone, and how
 * (`erasedBy`, e.g. `big-file-deleted`, `not-stored`). The first erasure
 * time is kept. Returns whether a tombstone was updated.
 */
export async function markErased(tx: DbQuery, name: string, erasedBy: string): Promise<boolean> {
  const rows = await tx.query<{ name: string }>(
    `update des_tombstones set erased_at = coalesce(erased_at, now()),
       erased_by = coalesce(erased_by, $2)
     where name = $1 returning name`,
    [name, erasedBy],
  );
  return rows.length > 0;
}

/**
 * Record that the parent rows of `names` moved to their purged status. Only
 * erased tombstones change, and the first purge time is kept. Returns the
 * number of tombstones updated.
 */
export async function markPurged(db: DbQuery, names: readonly string[]): Promise<number> {
  if (names.length === 0) return 0;
  const rows = await db.query<{ name: string }>(
    `update des_tombstones set purged_at = coalesce(purged_at, now())
     where name = any($1::text[]) and erased_at is not null returning name`,
    [[...names]],
  );
  return rows.length;
}

/** Names tombstoned in shards `start`–`end` (inclusive), for a retriever's start-up load. */
export async function tombstonedNames(db: DbQuery, start: number, end: number): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    "select name from des_tombstones where shard between $1 and $2",
    [start, end],
  );
  return rows.map((r) => r.name);
}
