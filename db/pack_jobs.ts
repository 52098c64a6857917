/**
 * Pack job records: one row per packing run of a shard and source, with a
 * free-form JSON checkpoint a restarted packer can resume from.
 *
 * @module
 */

import { type DbQuery, PREPARED } from "./db.ts";

/** State of a pack job. */
export type PackJobState = "running" | "done" | "failed";

/** One row of `des_pack_jobs`. */
export interface PackJobRow {
  /** Job id. */
  id: number;
  /** Shard packed. */
  shard: number;
  /** Source packed. */
  source: string;
  /** Worker running it. */
  owner: string;
  /** State. */
  state: PackJobState;
  /** Container being built, if any. */
  containerId: string | null;
  /** Files done so far. */
  filesDone: number;
  /** Bytes done so far. */
  bytesDone: number;
  /** Last checkpoint. */
  checkpoint: unknown;
  /** Error text when failed. */
  error: string | null;
  /** Start time. */
  startedAt: Date;
  /** Last update. */
  updatedAt: Date;
  /** End time. */
  finishedAt: Date | null;
}

const COLUMNS = `id, shard, source, owner, state, container_id as "containerId",
  files_done as "filesDone", bytes_done as "bytesDone", checkpoint, error,
  started_at as "startedAt", updated_at as "updatedAt", finished_at as "finishedAt"`;

/** `$1` shard, `$2` source, `$4` reason: running jobs of the shard and source become failed. */
const FAIL_STALE = `update des_pack_jobs
     set state = 'failed', error = $4, finished_at = now(), updated_at = now()
   where shard = $1 and source = $2 and state = 'running'`;

/**
 * Record the start of a job. With `staleReason` (called under the shard's
 * lease, when no job of it can still be running), the same statement first
 * marks the running jobs of the shard and source failed with that reason.
 */
export async function startPackJob(
  db: DbQuery,
  job: { shard: number; source: string; owner: string },
  staleReason?: string,
): Promise<PackJobRow> {
  const insert =
    `insert into des_pack_jobs (shard, source, owner) values ($1, $2, $3) returning ${COLUMNS}`;
  if (staleReason === undefined) {
    const [row] = await db.query<PackJobRow>(insert, [job.shard, job.source, job.owner], PREPARED);
    return row;
  }
  const [row] = await db.query<PackJobRow>(
    `with stale as (${FAIL_STALE} returning id) ${insert}`,
    [job.shard, job.source, job.owner, staleReason],
    PREPARED,
  );
  return row;
}

/** Save progress and a checkpoint of a running job. Returns false if the job is not running. */
export async function checkpointPackJob(
  db: DbQuery,
  id: number,
  progress: { filesDone: number; bytesDone: number; containerId?: string; checkpoint?: unknown },
): Promise<boolean> {
  const rows = await db.query(
    `update des_pack_jobs set files_done = $2, bytes_done = $3,
       container_id = coalesce($4, container_id), checkpoint = coalesce($5::text::jsonb, checkpoint),
       updated_at = now()
     where id = $1 and state = 'running' returning id`,
    [
      id,
      progress.filesDone,
      progress.bytesDone,
      progress.containerId ?? null,
      progress.checkpoint === undefined ? null : JSON.stringify(progress.checkpoint),
    ],
    PREPARED,
  );
  return rows.length === 1;
}

/** Mark a running job done or failed. Returns false if it was not running. */
export async function finishPackJob(
  db: DbQuery,
  id: number,
  state: "done" | "failed",
  error?: string,
): Promise<boolean> {
  const rows = await db.query(
    `update des_pack_jobs set state = $2, error = $3, finished_at = now(), updated_at = now()
     where id = $1 and state = 'running' returning id`,
    [id, state, error ?? null],
    PREPARED,
  );
  return rows.length === 1;
}

/** The most recent job of a shard and source, or null. */
export async function lastPackJob(
  db: DbQuery,
  shard: number,
  source: string,
): Promise<PackJobRow | null> {
  const rows = await db.query<PackJobRow>(
    `select ${COLUMNS} from des_pack_jobs where shard = $1 and source = $2
     order by id desc limit 1`,
    [shard, source],
  );
  return rows[0] ?? null;
}
