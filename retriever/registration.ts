/**
 * A retriever's row in `des_retrievers`: written at start, refreshed by a
 * heartbeat, removed on a clean stop. The gateway can build its routing
 * table from the rows whose heartbeat is recent.
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import type { Db } from "../db/db.ts";
import { registerRetriever, type RetrieverRecord } from "../db/retriever_records.ts";

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
