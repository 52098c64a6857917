/**
 * {@linkcode collectStatus}: read the operator's view of the archive from the
 * metadata DB and the parent sources, record the backlog sample the trend
 * needs, and decide what needs attention.
 *
 * @module
 */

import type { Db } from "../db/db.ts";
import { attentionOf } from "./attention.ts";
import { backlogReference, recordBacklog } from "./backlog_trend.ts";
import { deadLetters, markedPerShard, sourceCounts, type StatusSource } from "./parent_facts.ts";
import type {
  DeadLetter,
  LeaseStatus,
  RecentError,
  RetrieverStatus,
  ShardStatus,
  SourceStatus,
  StatusReport,
} from "./status_report.ts";

export type { StatusSource };

/** Options of {@linkcode collectStatus}. */
export interface CollectStatusOptions {
  /** The DES metadata DB (migrated). */
  db: Db;
  /** The parent sources. */
  sources: readonly StatusSource[];
  /** Shards of the archive (2^DES_SHARD_BITS). */
  shardCount: number;
  /** A retriever whose heartbeat is older than this is dead (default 30 s, six heartbeats). */
  deadRetrieverMs?: number;
  /** The backlog is compared with the newest sample at least this old (default one hour). */
  trendWindowMs?: number;
  /** Most dead-lettered rows listed (default 20). */
  deadLetterLimit?: number;
}

const VISIBLE = "('committed', 'parent_updated', 'sources_released')";

/** Read the whole view now. */
export async function collectStatus(options: CollectStatusOptions): Promise<StatusReport> {
  const { db } = options;
  const deadMs = options.deadRetrieverMs ?? 30_000;
  const [{ at }] = await db.query<{ at: Date }>("select now() as at");

  const retrievers = (await db.query<Omit<RetrieverStatus, "alive">>(
    `select id, url, range_start as "rangeStart", range_end as "rangeEnd",
            extract(epoch from (now() - heartbeat_at))::double precision as "heartbeatAgeSeconds"
       from des_retrievers order by range_start, id`,
  )).map((r) => ({ ...r, alive: r.heartbeatAgeSeconds * 1000 <= deadMs }));

  const shards = await db.query<ShardStatus>(
    `select shard, count(*)::int as containers, coalesce(sum(file_count), 0)::bigint as files,
            coalesce(sum(size), 0)::bigint as bytes
       from des_containers where state in ${VISIBLE} group by shard order by shard`,
  );

  const work = new Map<number, number>();
  const sources: SourceStatus[] = [];
  const letters: DeadLetter[] = [];
  for (const source of options.sources) {
    const counts = await sourceCounts(source);
    for (const [shard, n] of await markedPerShard(source)) {
      work.set(shard, (work.get(shard) ?? 0) + n);
    }
    letters.push(...await deadLetters(source, options.deadLetterLimit ?? 20));
    const name = source.config.name;
    const reference = await backlogReference(db, name, options.trendWindowMs ?? 3_600_000);
    await recordBacklog(db, name, counts.marked);
    sources.push({
      source: name,
      ...counts,
      markedBefore: reference?.marked ?? null,
      markedBeforeAt: reference?.at ?? null,
    });
  }

  const leaseRows = await db.query<Omit<LeaseStatus, "workLeft">>(
    `select s.shard, s.lease_owner as owner, s.lease_expires_at as "expiresAt",
            s.lease_expires_at < now() as expired,
            (select min(j.started_at) from des_pack_jobs j
              where j.shard = s.shard and j.owner = s.lease_owner and j.state = 'running') as since
       from des_shards s where s.lease_owner is not null order by s.shard`,
  );
  const leases = leaseRows.map((l) => ({ ...l, workLeft: work.get(l.shard) ?? 0 }));

  const recentErrors = await db.query<RecentError>(
    `select * from (
       select updated_at as at, 'container' as kind, shard, error from des_containers
        where state = 'aborted' and error is not null and updated_at > now() - interval '1 day'
       union all
       select updated_at as at, 'pack job' as kind, shard, error from des_pack_jobs
        where state = 'failed' and error is not null and updated_at > now() - interval '1 day'
     ) e order by at desc limit 20`,
  );

  const facts = { retrievers, leases, sources };
  return {
    at,
    database: db.location,
    shardCount: options.shardCount,
    ...facts,
    shards,
    deadLetters: letters.slice(0, options.deadLetterLimit ?? 20),
    recentErrors,
    attention: attentionOf(facts),
  };
}
