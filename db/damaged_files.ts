/**
 * Damaged files (`des_damaged_files`): a copy of a file whose bytes no
 * longer match the checksums recorded in its container's index. A damaged
 * or lost name is never served (retrievers answer a 5xx problem); a repair
 * writes a good copy into a new container and marks the record repaired.
 * Every insert and state change is announced on {@linkcode FILE_DAMAGED_CHANNEL}.
 *
 * @module
 */

import type { DbQuery } from "./db.ts";

/** The NOTIFY channel of damaged-file changes (`{"shard","name","state","repairedContainerId"}`). */
export const FILE_DAMAGED_CHANNEL = "des_file_damaged";

/** What became of a damaged copy. */
export type DamagedState = "damaged" | "repaired" | "lost";

/** States in which the name is not served. */
export const UNSERVED_STATES: readonly DamagedState[] = ["damaged", "lost"];

/** A damaged copy of a file. */
export interface DamagedFile {
  /** The DES name. */
  name: string;
  /** Its shard. */
  shard: number;
  /** Container holding the damaged bytes. */
  containerId: string;
  /** When the scrub found it. */
  foundAt: Date;
  /** What became of it. */
  state: DamagedState;
  /** Container holding the repaired copy. */
  repairedContainerId: string | null;
  /** When it was repaired. */
  repairedAt: Date | null;
  /** What the check and the repair found. */
  detail: string | null;
}

const COLUMNS = `name, shard, container_id as "containerId", found_at as "foundAt", state,
  repaired_container_id as "repairedContainerId", repaired_at as "repairedAt", detail`;

/**
 * Record a damaged copy (state `damaged`). A copy already recorded keeps its
 * record. Returns whether a new record was written.
 */
export async function recordDamagedFile(
  db: DbQuery,
  f: { name: string; shard: number; containerId: string; detail: string },
): Promise<boolean> {
  const rows = await db.query(
    `insert into des_damaged_files (name, shard, container_id, detail) values ($1, $2, $3, $4)
     on conflict (name, container_id) do nothing returning name`,
    [f.name, f.shard, f.containerId, f.detail.slice(0, 2000)],
  );
  return rows.length === 1;
}

/**
 * Move a damaged copy to `repaired` (with the container of the good copy) or
 * `lost`, appending `note` to its detail. Only a copy still `damaged`
 * changes; returns whether it did.
 */
export async function settleDamagedFile(
  db: DbQuery,
  f: { name: string; containerId: string },
  outcome: { state: "repaired"; repairedContainerId: string; note: string } | {
    state: "lost";
    note: string;
  },
): Promise<boolean> {
  const repaired = outcome.state === "repaired" ? outcome.repairedContainerId : null;
  const rows = await db.query(
    `update des_damaged_files set state = $3, repaired_container_id = $4,
       repaired_at = case when $3 = 'repaired' then now() end,
       detail = left(coalesce(detail || '; ', '') || $5, 4000)
     where name = $1 and container_id = $2 and state = 'damaged' returning name`,
    [f.name, f.containerId, outcome.state, repaired, outcome.note],
  );
  return rows.length === 1;
}

/** Damaged copies, optionally of some states or one container only, oldest first. */
export function listDamagedFiles(
  db: DbQuery,
  filter: { states?: readonly DamagedState[]; containerId?: string; limit?: number } = {},
): Promise<DamagedFile[]> {
  return db.query<DamagedFile>(
    `select ${COLUMNS} from des_damaged_files
     where ($1::text[] is null or state = any($1::text[]))
       and ($2::text is null or container_id = $2::text)
     order by found_at, name limit $3`,
    [filter.states ?? null, filter.containerId ?? null, filter.limit ?? 100_000],
  );
}

/** Damaged copies per state (`des scrub --report`, metrics). */
export async function countDamagedFiles(db: DbQuery): Promise<Record<DamagedState, number>> {
  const rows = await db.query<{ state: DamagedState; n: number }>(
    "select state, count(*)::int as n from des_damaged_files group by state",
  );
  const counts: Record<DamagedState, number> = { damaged: 0, repaired: 0, lost: 0 };
  for (const r of rows) counts[r.state] = r.n;
  return counts;
}

/** Names of shards `start`–`end` that must not be served (damaged or lost). */
export async function unservedNames(db: DbQuery, start: number, end: number): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `select distinct name from des_damaged_files
     where shard between $1 and $2 and state = any($3::text[])`,
    [start, end, UNSERVED_STATES],
  );
  return rows.map((r) => r.name);
}

/** Whether `name` must not be served (a copy of it is damaged or lost). */
export async function isUnserved(db: DbQuery, name: string): Promise<boolean> {
  const rows = await db.query(
    "select 1 from des_damaged_files where name = $1 and state = any($2::text[]) limit 1",
    [name, UNSERVED_STATES],
  );
  return rows.length > 0;
}
