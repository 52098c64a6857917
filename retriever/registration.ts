/**
 * A retriever's row in `des_retrievers`: written at start, refreshed by a
 * heartbeat, removed on a clean stop. The gateway can build its routing
 * table from the rows whose heartbeat is recent.
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import type { Db, DbQuery } from "../db/db.ts";
import type { ShardRange } from "./shard_range.ts";

/** What a retriever registers. */
export interface RetrieverRecord {
  /** Retriever id. */
  id: string;
  /** Base URL the gateway reaches it at. */
  url: string;
  /** Shards it serves. */
  range: ShardRange;
}

/** Insert or refresh the row of `record`. */
export async function registerRetriever(db: DbQuery, record: RetrieverRecord): Promise<void> {
  await db.query(
    `insert into des_retrievers (id, url, range_start, range_end)
     values ($1, $2, $3, $4)
     on conflict (id) do update set url = excluded.url, range_start = excluded.range_start,
       range_end = excluded.range_end, started_at = now(), heartbeat_at = now()`,
    [record.id, record.url, record.range.start, record.range.end],
  );
}

/** Retrievers whose heartbeat is at most `maxAgeSeconds` old, by range start. */
export async function liveRetrievers(
  db: DbQuery,
  maxAgeSeconds: number,
): Promise<RetrieverRecord[]> {
  const rows = await db.query<{ id: string; url: string; rangeStart: number; rangeEnd: number }>(
    `select id, url, range_start as "rangeStart", range_end as "rangeEnd" from des_retrievers
     where heartbeat_at > now() - make_interval(secs => $1) order by range_start, id`,
    [maxAgeSeconds],
  );
  return rows.map((r) => ({
    id: r.id,
    url: r.url,
    range: { start: r.rangeStart, end: r.rangeEnd },
  }));
}

/** Keeps one registration alive until closed. */
export class RetrieverRegistration {
  readonly #db: Db;
  readonly #record: RetrieverRecord;
  readonly #timer: ReturnType<typeof setInterval>;

  private constructor(db: Db, record: RetrieverRecord, heartbeatMs: number, log?: Logger) {
    this.#db = db;
    this.#record = record;
    this.#timer = setInterval(() => {
      this.#beat().catch((error) => log?.warn("retriever heartbeat failed", { error }));
    }, heartbeatMs);
  }

  /** Register now and start the heartbeat (default every 5 s). */
  static async start(
    db: Db,
    record: RetrieverRecord,
    options: { heartbeatMs?: number; log?: Logger } = {},
  ): Promise<RetrieverRegistration> {
    await registerRetriever(db, record);
    return new RetrieverRegistration(db, record, options.heartbeatMs ?? 5000, options.log);
  }

  /** Stop the heartbeat and remove the row. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#db.query("delete from des_retrievers where id = $1", [this.#record.id]);
  }

  async #beat(): Promise<void> {
    const rows = await this.#db.query(
      "update des_retrievers set heartbeat_at = now() where id = $1 returning id",
      [this.#record.id],
    );
    if (rows.length === 0) await registerRetriever(this.#db, this.#record);
  }
}
