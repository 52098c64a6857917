/**
 * Shards and their packing leases. A lease is held by an owner until it
 * expires; an expired lease is taken over by the next claimer, so a crashed
 * packer's shards are picked up again. All times come from the database clock.
 *
 * @module
 */

import { DesConfigError, DesInputError } from "../core/errors.ts";
import { type DbQuery, PREPARED } from "./db.ts";

/** One row of `des_shards`. */
export interface ShardRow {
  /** Shard number. */
  shard: number;
  /** Who holds the lease, or null. */
  leaseOwner: string | null;
  /** When the lease ends, or null. */
  leaseExpiresAt: Date | null;
  /** When a container of this shard was last committed. */
  lastPackedAt: Date | null;
  /** Containers committed so far. */
  packedContainers: number;
  /** Files packed so far. */
  packedFiles: number;
  /** Bytes packed so far. */
  packedBytes: number;
}

/** A lease just granted by {@linkcode claimShards}. */
export interface ShardLease {
  /** Shard number. */
  shard: number;
  /** When the lease ends unless renewed. */
  expiresAt: Date;
  /** The previous holder when an expired lease was taken over, else null. */
  takenOverFrom: string | null;
}

/** What {@linkcode claimShards} needs. */
export interface ClaimOptions {
  /** Who claims (unique per worker, e.g. `host:pid:random`). */
  owner: string;
  /** First shard of the range, inclusive. */
  rangeStart: number;
  /** Last shard of the range, inclusive. */
  rangeEnd: number;
  /** Lease length in milliseconds. */
  leaseMs: number;
  /** Most shards to claim (default: the whole range). */
  limit?: number;
}

const SHARD_COLUMNS = `shard, lease_owner as "leaseOwner", lease_expires_at as "leaseExpiresAt",
  last_packed_at as "lastPackedAt", packed_containers as "packedContainers",
  packed_files as "packedFiles", packed_bytes as "packedBytes"`;

function checkOwner(owner: string): void {
  if (typeof owner !== "string" || owner.trim() === "" || owner.length > 200) {
    throw new DesInputError("lease owner must be a non-empty string of at most 200 characters", {
      owner,
    });
  }
}

function checkShardNumber(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new DesInputError(`${what} must be an integer in 0..65535, got ${value}`, {
      [what]: value,
    });
  }
}

function checkLeaseMs(leaseMs: number): void {
  if (!Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > 7 * 86_400_000) {
    throw new DesInputError(`leaseMs must be an integer in 1..604800000, got ${leaseMs}`, {
      leaseMs,
    });
  }
}

/**
 * Create the shard rows 0..2^shardBits-1 (existing rows are kept) and record
 * the shard bits in `des_settings`. Throws `DesConfigError` if the catalog was
 * created with other shard bits: they are fixed for the life of an archive.
 */
export async function ensureShards(db: DbQuery, shardBits: number): Promise<{ created: number }> {
  if (!Number.isInteger(shardBits) || shardBits < 1 || shardBits > 16) {
    throw new DesConfigError(`DES_SHARD_BITS must be an integer in 1..16, got ${shardBits}`, {
      shardBits,
    });
  }
  await db.query(
    "insert into des_settings (key, value) values ('shard_bits', $1) on conflict (key) do nothing",
    [String(shardBits)],
  );
  const [setting] = await db.query<{ value: string }>(
    "select value from des_settings where key = 'shard_bits'",
  );
  if (setting.value !== String(shardBits)) {
    throw new DesConfigError(
      `the catalog was created with DES_SHARD_BITS=${setting.value}, this process has ${shardBits}; shard bits cannot change for an existing archive`,
      { configured: shardBits, catalog: Number(setting.value) },
    );
  }
  const rows = await db.query(
    `insert into des_shards (shard) select s from generate_series(0, $1::int - 1) as s
     on conflict (shard) do nothing returning shard`,
    [2 ** shardBits],
  );
  return { created: rows.length };
}

/**
 * Lease up to `limit` shards of `[rangeStart, rangeEnd]` that are free, whose
 * lease expired, or that `owner` already holds (renewed). Least recently
 * packed shards come first. Rows locked by a concurrent claimer are skipped
 * (`FOR UPDATE SKIP LOCKED`), so concurrent claimers get disjoint shards.
 */
export async function claimShards(db: DbQuery, options: ClaimOptions): Promise<ShardLease[]> {
  const { owner, rangeStart, rangeEnd, leaseMs } = options;
  checkOwner(owner);
  checkShardNumber("rangeStart", rangeStart);
  checkShardNumber("rangeEnd", rangeEnd);
  checkLeaseMs(leaseMs);
  if (rangeStart > rangeEnd) {
    throw new DesInputError(`shard range ${rangeStart}-${rangeEnd} is empty`, {
      rangeStart,
      rangeEnd,
    });
  }
  const limit = options.limit ?? rangeEnd - rangeStart + 1;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new DesInputError(`limit must be a positive integer, got ${limit}`, { limit });
  }
  const rows = await db.query<ShardLease>(
    `with candidates as (
       select shard, lease_owner as previous_owner
       from des_shards
       where shard between $1 and $2
         and (lease_owner is null or lease_owner = $3 or lease_expires_at <= now())
       order by last_packed_at asc nulls first, shard
       limit $4
       for update skip locked
     )
     update des_shards s
     set lease_owner = $3, lease_expires_at = now() + $5::double precision * interval '1 millisecond'
     from candidates c
     where s.shard = c.shard
     returning s.shard, s.lease_expires_at as "expiresAt",
       case when c.previous_owner is distinct from $3 then c.previous_owner end as "takenOverFrom"`,
    [rangeStart, rangeEnd, owner, limit, leaseMs],
    PREPARED,
  );
  return rows.sort((a, b) => a.shard - b.shard);
}

/**
 * Extend `owner`'s leases on `shards` by `leaseMs` from now. Returns the
 * shards still held; a shard missing from the result was taken over.
 */
export async function renewLeases(
  db: DbQuery,
  options: { owner: string; shards: readonly number[]; leaseMs: number },
): Promise<number[]> {
  checkOwner(options.owner);
  checkLeaseMs(options.leaseMs);
  options.shards.forEach((s) => checkShardNumber("shard", s));
  const rows = await db.query<{ shard: number }>(
    `update des_shards
     set lease_expires_at = now() + $3::double precision * interval '1 millisecond'
     where shard = any($1::int[]) and lease_owner = $2
     returning shard`,
    [options.shards, options.owner, options.leaseMs],
    PREPARED,
  );
  return rows.map((r) => r.shard).sort((a, b) => a - b);
}

/** Extend one lease. Returns false when `owner` no longer holds `shard`. */
export async function renewLease(
  db: DbQuery,
  options: { owner: string; shard: number; leaseMs: number },
): Promise<boolean> {
  const held = await renewLeases(db, { ...options, shards: [options.shard] });
  return held.length === 1;
}

/** Give up a lease. Returns false when `owner` did not hold it. */
export async function releaseShard(
  db: DbQuery,
  options: { owner: string; shard: number },
): Promise<boolean> {
  checkOwner(options.owner);
  checkShardNumber("shard", options.shard);
  const rows = await db.query(
    `update des_shards set lease_owner = null, lease_expires_at = null
     where shard = $1 and lease_owner = $2 returning shard`,
    [options.shard, options.owner],
    PREPARED,
  );
  return rows.length === 1;
}

/** The shard rows in `[rangeStart, rangeEnd]` (default: all), by shard. */
export function listShards(
  db: DbQuery,
  range: { rangeStart?: number; rangeEnd?: number } = {},
): Promise<ShardRow[]> {
  return db.query<ShardRow>(
    `select ${SHARD_COLUMNS} from des_shards where shard between $1 and $2 order by shard`,
    [range.rangeStart ?? 0, range.rangeEnd ?? 65535],
  );
}
