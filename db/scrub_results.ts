/**
 * Scrub results: the latest check of each visible container
 * (`des_scrub_results`), which container to check next (never checked
 * first, then the longest unchecked), and the figures `des scrub --report`
 * shows. See docs/lifecycle.md, "Scrubbing".
 *
 * @module
 */

import { VISIBLE_STATES } from "./container_states.ts";
import type { DbQuery } from "./db.ts";

/** A visible container due for a scrub. */
export interface ScrubCandidate {
  /** Container id. */
  containerId: string;
  /** Its shard. */
  shard: number;
  /** Its source. */
  source: string;
  /** Bucket holding the object. */
  bucket: string;
  /** Object key. */
  key: string;
  /** Object size recorded at commit. */
  size: number;
  /** When it was last scrubbed (null: never). */
  scrubbedAt: Date | null;
}

/** The outcome of one scrub of one container. */
export interface ScrubResult {
  /** Container id. */
  containerId: string;
  /** Every file and structure check passed. */
  ok: boolean;
  /** Bytes read. */
  bytes: number;
  /** Files whose checksums were computed. */
  filesChecked: number;
  /** Files found damaged. */
  badFiles: number;
  /** Structural problems, or why the container could not be read. */
  error?: string;
}

/** What `des scrub --report` shows about containers. */
export interface ScrubCoverage {
  /** Visible containers. */
  containers: number;
  /** Visible containers scrubbed at least once. */
  scrubbed: number;
  /** Visible containers never scrubbed. */
  neverScrubbed: number;
  /** Visible containers whose last scrub failed. */
  failing: number;
  /** The oldest last-scrub time among scrubbed containers. */
  oldestScrubAt: Date | null;
  /** Visible containers whose last scrub failed, with the reason. */
  failures: { containerId: string; key: string; scrubbedAt: Date; error: string | null }[];
}

/**
 * Visible containers of shards `start`–`end`, never scrubbed first, then
 * the longest unscrubbed, at most `limit`; with `before`, only those not
 * scrubbed since then (one pass never checks a container twice).
 */
export async function containersToScrub(
  db: DbQuery,
  filter: { start: number; end: number; limit: number; before?: Date },
): Promise<ScrubCandidate[]> {
  const rows = await db.query<ScrubCandidate>(
    `select c.container_id as "containerId", c.shard, c.source, c.bucket, c.key, c.size,
       r.scrubbed_at as "scrubbedAt"
     from des_containers c left join des_scrub_results r using (container_id)
     where c.state = any($1::text[]) and c.shard between $2 and $3
       and ($5::timestamptz is null or r.scrubbed_at is null or r.scrubbed_at < $5::timestamptz)
     order by r.scrubbed_at nulls first, c.id
     limit $4`,
    [VISIBLE_STATES, filter.start, filter.end, filter.limit, filter.before ?? null],
  );
  return rows.map((r) => ({ ...r, size: Number(r.size) }));
}

/** Record (replace) the latest scrub of a container. */
export async function recordScrubResult(db: DbQuery, r: ScrubResult): Promise<void> {
  await db.query(
    `insert into des_scrub_results (container_id, scrubbed_at, ok, bytes, files_checked,
       bad_files, error)
     values ($1, now(), $2, $3, $4, $5, $6)
     on conflict (container_id) do update set scrubbed_at = now(), ok = excluded.ok,
       bytes = excluded.bytes, files_checked = excluded.files_checked,
       bad_files = excluded.bad_files, error = excluded.error`,
    [r.containerId, r.ok, r.bytes, r.filesChecked, r.badFiles, r.error?.slice(0, 4000) ?? null],
  );
}

/** Coverage of the visible containers by scrubs (`des scrub --report`). */
export async function scrubCoverage(db: DbQuery): Promise<ScrubCoverage> {
  const [row] = await db.query<
    { containers: number; scrubbed: number; failing: number; oldest: Date | null }
  >(
    `select count(*)::int as containers, count(r.container_id)::int as scrubbed,
       count(*) filter (where r.ok = false)::int as failing, min(r.scrubbed_at) as oldest
     from des_containers c left join des_scrub_results r using (container_id)
     where c.state = any($1::text[])`,
    [VISIBLE_STATES],
  );
  const failures = await db.query<ScrubCoverage["failures"][number]>(
    `select c.container_id as "containerId", c.key, r.scrubbed_at as "scrubbedAt", r.error
     from des_containers c join des_scrub_results r using (container_id)
     where c.state = any($1::text[]) and not r.ok
     order by r.scrubbed_at limit 1000`,
    [VISIBLE_STATES],
  );
  return {
    containers: row.containers,
    scrubbed: row.scrubbed,
    neverScrubbed: row.containers - row.scrubbed,
    failing: row.failing,
    oldestScrubAt: row.oldest,
    failures,
  };
}
