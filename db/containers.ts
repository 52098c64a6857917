/**
 * The container catalog: create, move through states with compare-and-set,
 * list, and load what a retriever needs.
 *
 * @module
 */

import { DesConflictError, DesInputError } from "../core/errors.ts";
import type { DbQuery } from "./db.ts";
import { sqlStateOf } from "./sql_errors.ts";
import {
  canTransition,
  type ContainerState,
  isContainerState,
  VISIBLE_STATES,
} from "./container_states.ts";

/** One row of `des_containers`. */
export interface ContainerRow {
  /** Catalog row id. */
  id: number;
  /** Container id from the format (lowercase hex). */
  containerId: string;
  /** Shard of every name in the container. */
  shard: number;
  /** Source the files came from. */
  source: string;
  /** Bucket (or store) holding the container object. */
  bucket: string;
  /** Object key. */
  key: string;
  /** Object size in bytes (known from `uploaded` on). */
  size: number | null;
  /** Files in the container. */
  fileCount: number | null;
  /** Bytes of file data. */
  dataBytes: number | null;
  /** Smallest name in the container ("C" collation order). */
  firstName: string | null;
  /** Largest name in the container. */
  lastName: string | null;
  /** CRC32C of the index. */
  indexCrc32c: number | null;
  /** CRC32C of the footer. */
  footerCrc32c: number | null;
  /** Object ETag after upload. */
  etag: string | null;
  /** Write-ahead state. */
  state: ContainerState;
  /** Worker that owns the container's progress. */
  owner: string | null;
  /** Last error, for aborted containers. */
  error: string | null;
  /** When the row was created. */
  createdAt: Date;
  /** When the row last changed. */
  updatedAt: Date;
  /** When it became visible. */
  committedAt: Date | null;
  /** Files whose names are tombstoned. */
  deadFiles: number;
  /** Stored bytes of those files. */
  deadBytes: number;
  /** Compaction: the container that replaced this one (null: none, or retired without one). */
  replacedBy: string | null;
  /** Compaction: the containers this one replaced (null: packed from originals). */
  compactedFrom: string[] | null;
  /** When compaction retired it. */
  retiredAt: Date | null;
  /** When its object was deleted after the grace period. */
  objectDeletedAt: Date | null;
}

/** A committed container, as the retriever loads it. */
export type CommittedContainer =
  & Pick<
    ContainerRow,
    | "containerId"
    | "shard"
    | "bucket"
    | "key"
    | "etag"
    | "indexCrc32c"
    | "footerCrc32c"
    | "committedAt"
  >
  & {
    /** Object size in bytes. */
    size: number;
    /** Files in the container. */
    fileCount: number;
    /** Smallest name. */
    firstName: string;
    /** Largest name. */
    lastName: string;
  };

/** What {@linkcode createContainer} needs. */
export interface NewContainer {
  /** Container id from the format (lowercase hex, at most 64 digits). */
  containerId: string;
  /** Shard. */
  shard: number;
  /** Source name. */
  source: string;
  /** Target bucket. */
  bucket: string;
  /** Target key. */
  key: string;
  /** Owning worker. */
  owner?: string;
  /** Compaction: the containers the new one replaces. */
  compactedFrom?: readonly string[];
}

/** Facts recorded along with a state change. Omitted fields are left as they are. */
export interface ContainerFacts {
  /** Object size in bytes. */
  size?: number;
  /** Files in the container. */
  fileCount?: number;
  /** Bytes of file data. */
  dataBytes?: number;
  /** Smallest name. */
  firstName?: string;
  /** Largest name. */
  lastName?: string;
  /** CRC32C of the index. */
  indexCrc32c?: number;
  /** CRC32C of the footer. */
  footerCrc32c?: number;
  /** Object ETag. */
  etag?: string;
  /** New owner. */
  owner?: string;
  /** Error text (for `aborted`). */
  error?: string;
  /** Compaction: the replacing container (for `retired`). */
  replacedBy?: string;
}

const FACT_COLUMNS: Record<keyof ContainerFacts, string> = {
  size: "size",
  fileCount: "file_count",
  dataBytes: "data_bytes",
  firstName: "first_name",
  lastName: "last_name",
  indexCrc32c: "index_crc32c",
  footerCrc32c: "footer_crc32c",
  etag: "etag",
  owner: "owner",
  error: "error",
  replacedBy: "replaced_by",
};

const ROW_COLUMNS = `id, container_id as "containerId", shard, source, bucket, key, size,
  file_count as "fileCount", data_bytes as "dataBytes", first_name as "firstName",
  last_name as "lastName", index_crc32c as "indexCrc32c", footer_crc32c as "footerCrc32c",
  etag, state, owner, error, created_at as "createdAt", updated_at as "updatedAt",
  committed_at as "committedAt", dead_files as "deadFiles", dead_bytes as "deadBytes",
  replaced_by as "replacedBy", compacted_from as "compactedFrom", retired_at as "retiredAt",
  object_deleted_at as "objectDeletedAt"`;

/** Insert a container in state `building`. Throws `DesConflictError` if its id or bucket/key exists. */
export async function createContainer(db: DbQuery, c: NewContainer): Promise<ContainerRow> {
  try {
    const [row] = await db.query<ContainerRow>(
      `insert into des_containers (container_id, shard, source, bucket, key, owner, compacted_from)
       values ($1, $2, $3, $4, $5, $6, $7::text[]) returning ${ROW_COLUMNS}`,
      newContainerParams(c),
    );
    return row;
  } catch (err) {
    throw createError(err, c);
  }
}

/**
 * Parameters `$1`–`$7` of an insert of `c`: id, shard, source, bucket, key,
 * owner, compacted_from.
 */
export function newContainerParams(c: NewContainer): unknown[] {
  return [
    c.containerId,
    c.shard,
    c.source,
    c.bucket,
    c.key,
    c.owner ?? null,
    c.compactedFrom ? [...c.compactedFrom] : null,
  ];
}

/** The typed error for a failed insert of `c` (a duplicate, a bad id or shard), else `err`. */
export function createError(err: unknown, c: NewContainer): unknown {
  const state = sqlStateOf(err);
  if (state === "23505") {
    return new DesConflictError(
      `container ${c.containerId} (or object ${c.bucket}/${c.key}) is already in the catalog`,
      { containerId: c.containerId, bucket: c.bucket, key: c.key },
    );
  }
  if (state === "23514") {
    return new DesInputError(`container ${c.containerId} has an invalid id or shard`, {
      containerId: c.containerId,
      shard: c.shard,
    });
  }
  return err;
}

/**
 * Move a container from `from` to `to` and record `facts`, only if it is
 * still in `from` (compare-and-set). Returns false when it is not (another
 * worker moved it first, or it does not exist). Throws `DesInputError` for a
 * transition the state machine does not allow, or when committing without
 * size, file count and name range.
 */
export async function setContainerState(
  db: DbQuery,
  containerId: string,
  from: ContainerState,
  to: ContainerState,
  facts: ContainerFacts = {},
): Promise<boolean> {
  const { sets, params } = stateChange(containerId, from, to, facts);
  try {
    const rows = await db.query(
      `update des_containers set ${sets}
       where container_id = $1 and state = $2 returning id`,
      params,
    );
    return rows.length === 1;
  } catch (err) {
    throw stateChangeError(err, containerId, to);
  }
}

/**
 * The SET list of a move from `from` to `to` with `facts`, and its
 * parameters: `$1` container id, `$2` from, `$3` to, the facts from `$4`.
 * Throws `DesInputError` for a transition the state machine does not allow
 * or an unknown fact.
 */
export function stateChange(
  containerId: string,
  from: ContainerState,
  to: ContainerState,
  facts: ContainerFacts = {},
): { sets: string; params: unknown[] } {
  if (!isContainerState(from) || !isContainerState(to) || !canTransition(from, to)) {
    throw new DesInputError(`container state cannot go from ${from} to ${to}`, {
      containerId,
      from,
      to,
    });
  }
  const sets = ["state = $3", "updated_at = now()"];
  const params: unknown[] = [containerId, from, to];
  for (const [field, value] of Object.entries(facts)) {
    const column = FACT_COLUMNS[field as keyof ContainerFacts];
    if (!column) throw new DesInputError(`unknown container fact ${field}`, { field });
    if (value === undefined) continue;
    params.push(value);
    sets.push(`${column} = $${params.length}`);
  }
  if (to === "committed") sets.push("committed_at = now()");
  if (to === "retired") sets.push("retired_at = now()");
  if (to === "deleted") sets.push("object_deleted_at = now()");
  return { sets: sets.join(", "), params };
}

/** The typed error for a failed state change (a check constraint), else `err`. */
export function stateChangeError(err: unknown, containerId: string, to: ContainerState): unknown {
  if (sqlStateOf(err) === "23514") {
    return new DesInputError(
      `container ${containerId} cannot become ${to}: a value is out of range, or size, file count or name range is missing`,
      { containerId, to, constraint: (err as { constraint_name?: string }).constraint_name },
    );
  }
  return err;
}

/** One container by id, or null. */
export async function getContainer(db: DbQuery, containerId: string): Promise<ContainerRow | null> {
  const rows = await db.query<ContainerRow>(
    `select ${ROW_COLUMNS} from des_containers where container_id = $1`,
    [containerId],
  );
  return rows[0] ?? null;
}

/** Containers filtered by shard, states and source, oldest first. */
export function listContainers(
  db: DbQuery,
  filter: { shard?: number; states?: readonly ContainerState[]; source?: string; limit?: number } =
    {},
): Promise<ContainerRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.shard !== undefined) {
    params.push(filter.shard);
    where.push(`shard = $${params.length}`);
  }
  if (filter.states !== undefined) {
    params.push(filter.states);
    where.push(`state = any($${params.length}::text[])`);
  }
  if (filter.source !== undefined) {
    params.push(filter.source);
    where.push(`source = $${params.length}`);
  }
  params.push(filter.limit ?? 100_000);
  return db.query<ContainerRow>(
    `select ${ROW_COLUMNS} from des_containers
     ${where.length ? `where ${where.join(" and ")}` : ""}
     order by id limit $${params.length}`,
    params,
  );
}

/** The columns of a {@linkcode CommittedContainer}, as a select list. */
const COMMITTED_COLUMNS = `container_id as "containerId", shard, bucket, key, size,
  file_count as "fileCount", first_name as "firstName", last_name as "lastName", etag,
  index_crc32c as "indexCrc32c", footer_crc32c as "footerCrc32c", committed_at as "committedAt"`;

/**
 * The visible containers (committed and later states) of shards
 * `[rangeStart, rangeEnd]`, ordered by shard, then first name: what a
 * retriever loads to find a name's container without a query per read.
 */
export function committedContainersForShards(
  db: DbQuery,
  rangeStart: number,
  rangeEnd: number,
): Promise<CommittedContainer[]> {
  return db.query<CommittedContainer>(
    `select ${COMMITTED_COLUMNS}
     from des_containers
     where shard between $1 and $2 and state = any($3::text[])
     order by shard, first_name, container_id`,
    [rangeStart, rangeEnd, VISIBLE_STATES],
  );
}

/**
 * The visible containers of `shard` whose name range covers `name`, latest
 * commit first: where a deleted name's bytes may be.
 */
export function visibleContainersCovering(
  db: DbQuery,
  shard: number,
  name: string,
): Promise<CommittedContainer[]> {
  return db.query<CommittedContainer>(
    `select ${COMMITTED_COLUMNS}
     from des_containers
     where shard = $1 and state = any($3::text[]) and first_name <= $2 and last_name >= $2
     order by committed_at desc nulls last, container_id`,
    [shard, name, VISIBLE_STATES],
  );
}

/**
 * Whether a packer may be writing `shard` right now: its lease is held, or
 * one of its containers is between `building` and `verified`. A name no
 * visible container holds may still land in such a container.
 */
export async function shardPackingInFlight(db: DbQuery, shard: number): Promise<boolean> {
  const [row] = await db.query<{ busy: boolean }>(
    `select exists(select 1 from des_shards where shard = $1 and lease_expires_at > now())
         or exists(select 1 from des_containers
                    where shard = $1 and state in ('building', 'uploaded', 'verified')) as busy`,
    [shard],
  );
  return row.busy;
}

/** The NOTIFY channel raised when a container becomes committed. */
export const CONTAINER_COMMITTED_CHANNEL = "des_container_committed";

/** Payload of {@linkcode CONTAINER_COMMITTED_CHANNEL}. */
export interface ContainerCommitted {
  /** Shard of the container. */
  shard: number;
  /** Container id. */
  containerId: string;
}
