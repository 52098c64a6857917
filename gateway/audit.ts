/**
 * The read audit trail: one row per `/files` request in `des_read_audit`
 * (name, status, bytes, client id, trace id), buffered and appended in
 * batches so that auditing never sits on the request path. A bounded buffer
 * keeps memory flat when the DB is down; rows beyond it are dropped and
 * counted.
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import type { DbQuery } from "../db/db.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** One audited read. */
export interface AuditRecord {
  /** When it happened. */
  at: Date;
  /** Requested name (truncated to 200 characters). */
  name: string;
  /** Response status. */
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Client id (API key id or address). */
  client: string | null;
  /** Trace id. */
  traceId: string | null;
}

/** Options of {@linkcode AuditTrail}. */
export interface AuditOptions {
  /** Rows per INSERT (default 500). */
  batchSize?: number;
  /** Flush at least this often, in ms (default 1000). */
  flushMs?: number;
  /** Most rows held while the DB is slow or down (default 100 000). */
  maxPending?: number;
  /** Metrics to update. */
  metrics?: GatewayMetrics;
  /** Logger for write failures. */
  log?: Logger;
}

const COLUMNS = 6;

/** Buffers audit rows and writes them in batches. */
export class AuditTrail {
  readonly #db: DbQuery;
  readonly #batchSize: number;
  readonly #maxPending: number;
  readonly #metrics?: GatewayMetrics;
  readonly #log?: Logger;
  readonly #timer: ReturnType<typeof setInterval>;
  #pending: AuditRecord[] = [];
  #flushing?: Promise<void>;

  /** @param db where `des_read_audit` lives @param options batching and limits */
  constructor(db: DbQuery, options: AuditOptions = {}) {
    this.#db = db;
    this.#batchSize = Math.max(1, Math.min(options.batchSize ?? 500, Math.floor(65_535 / COLUMNS)));
    this.#maxPending = options.maxPending ?? 100_000;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#timer = setInterval(() => void this.flush(), options.flushMs ?? 1000);
  }

  /** Queue one row (never blocks, never throws). */
  record(record: AuditRecord): void {
    if (this.#pending.length >= this.#maxPending) {
      this.#metrics?.auditDropped.inc();
      return;
    }
    this.#pending.push({ ...record, name: record.name.slice(0, 200) });
    this.#metrics?.auditPending.set(this.#pending.length);
    if (this.#pending.length >= this.#batchSize) void this.flush();
  }

  /** Write everything queued so far. Failures are logged and the rows kept for the next try. */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** Stop the timer and write what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.slice(0, this.#batchSize);
      try {
        await this.#insert(batch);
      } catch (error) {
        this.#log?.warn("could not write the read audit; will retry", {
          rows: this.#pending.length,
          error,
        });
        return;
      }
      this.#pending.splice(0, batch.length);
      this.#metrics?.auditWritten.inc({}, batch.length);
      this.#metrics?.auditPending.set(this.#pending.length);
    }
  }

  async #insert(rows: AuditRecord[]): Promise<void> {
    const params: unknown[] = [];
    const values = rows.map((r, i) => {
      params.push(r.at, r.name, r.status, r.bytes, r.client, r.traceId);
      const b = i * COLUMNS;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
    });
    await this.#db.query(
      `insert into des_read_audit (at, name, status, bytes, client, trace_id) values ${
        values.join(", ")
      }`,
      params,
    );
  }
}
