/**
 * The read audit trail: one row per `/files` request in `des_read_audit`
 * (method, route, name, status, bytes, client id, trace id), queued in
 * memory and appended in batches (one statement each, `db/read_audit.ts`, on
 * a timer or when a batch is full; never awaited by a request), so auditing
 * never sits on the request path and nothing a client sends can stop it:
 *
 * - values are made clean before they are queued ({@linkcode cleanAuditText}):
 *   printable ASCII only, bounded length;
 * - a batch the database refuses for its data is retried row by row, and a
 *   row refused again goes to `des_read_audit_rejected` (as escaped JSON)
 *   instead of blocking the rows behind it;
 * - a connection failure keeps the rows for the next flush and marks the
 *   trail unhealthy until a write succeeds;
 * - the queue is bounded; rows beyond it are dropped and counted.
 *
 * {@linkcode AuditTrail.healthy} is what `DES_GATEWAY_AUDIT_REQUIRED=true`
 * consults: when it is false the gateway refuses reads with 503 rather than
 * serve them unrecorded.
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import type { DbQuery } from "../db/db.ts";
import { AUDIT_BATCH_ROWS, insertReadAudit } from "../db/read_audit.ts";
import { sqlStateOf } from "../db/sql_errors.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** One audited request. */
export interface AuditRecord {
  /** When it happened. */
  at: Date;
  /** HTTP method. */
  method: string;
  /** Operation id of the route (`getFile`, `headFile`, …). */
  route: string;
  /** Requested name, or the raw path segment when it is not a name. */
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
  /** Rows per statement (default 2000; one statement whatever the size). */
  batchSize?: number;
  /** Flush at least this often, in ms (default 1000). */
  flushMs?: number;
  /** Most rows held while the DB is slow or down (default 100 000). */
  maxPending?: number;
  /** Pending rows above which the trail reports itself unhealthy (default 10 000). */
  healthyPending?: number;
  /** Metrics to update. */
  metrics?: GatewayMetrics;
  /** Logger for write failures. */
  log?: Logger;
}

/** Longest text kept in an audit column. */
export const MAX_AUDIT_TEXT = 200;

/** Printable ASCII only: what almost every value already is, kept as it is. */
const CLEAN = /^[\x20-\x7e]*$/;

/**
 * `text` with every character outside printable ASCII percent-encoded
 * (UTF-8), cut to {@linkcode MAX_AUDIT_TEXT} characters: whatever a client
 * sends, what is queued can be stored.
 *
 * @example
 * ```ts
 * cleanAuditText("a\u0000b"); // "a%00b"
 * ```
 */
export function cleanAuditText(text: string): string {
  if (text.length <= MAX_AUDIT_TEXT && CLEAN.test(text)) return text;
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code < 0x7f) {
      out += ch;
    } else {
      for (const b of new TextEncoder().encode(ch)) {
        out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
      }
    }
    if (out.length >= MAX_AUDIT_TEXT) return out.slice(0, MAX_AUDIT_TEXT);
  }
  return out;
}

/**
 * Whether the database refused the values themselves (SQLSTATE class 22
 * data exception, 23 integrity, 54 limit): retrying the same row cannot
 * help. Anything else (connection lost, timeout, schema not migrated) may
 * pass later, so the rows are kept.
 */
function refusedForData(error: unknown): boolean {
  return /^(22|23|54)/.test(sqlStateOf(error) ?? "");
}

/** Buffers audit rows and writes them in batches. */
export class AuditTrail {
  readonly #db: DbQuery;
  readonly #batchSize: number;
  readonly #maxPending: number;
  readonly #healthyPending: number;
  readonly #metrics?: GatewayMetrics;
  readonly #log?: Logger;
  readonly #timer: ReturnType<typeof setInterval>;
  #pending: AuditRecord[] = [];
  #flushing?: Promise<void>;
  #down?: string;

  /** @param db where `des_read_audit` lives @param options batching and limits */
  constructor(db: DbQuery, options: AuditOptions = {}) {
    this.#db = db;
    this.#batchSize = Math.max(1, Math.min(options.batchSize ?? 2000, AUDIT_BATCH_ROWS));
    this.#maxPending = options.maxPending ?? 100_000;
    this.#healthyPending = Math.min(options.healthyPending ?? 10_000, this.#maxPending);
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#timer = setInterval(() => void this.flush(), options.flushMs ?? 1000);
  }

  /** Queue one row, cleaned (never blocks, never throws). */
  record(record: AuditRecord): void {
    if (this.#pending.length >= this.#maxPending) {
      this.#metrics?.auditDropped.inc();
      return;
    }
    this.#pending.push({
      at: record.at,
      method: cleanAuditText(record.method).slice(0, 16),
      route: cleanAuditText(record.route).slice(0, 40),
      name: cleanAuditText(record.name),
      status: record.status,
      bytes: record.bytes,
      client: record.client === null ? null : cleanAuditText(record.client),
      traceId: record.traceId === null ? null : cleanAuditText(record.traceId),
    });
    this.#metrics?.auditPending.set(this.#pending.length);
    if (this.#pending.length >= this.#batchSize) void this.flush();
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * `"ok"`, or why the trail cannot promise to record the next read: the
   * last write failed for the connection, or the queue is above its bound.
   */
  health(): string {
    if (this.#down !== undefined) return `the audit database is unavailable: ${this.#down}`;
    if (this.#pending.length >= this.#healthyPending) {
      return `${this.#pending.length} audit rows are waiting to be written`;
    }
    return "ok";
  }

  /** Whether {@linkcode health} is `"ok"`. */
  get healthy(): boolean {
    return this.health() === "ok";
  }

  /** Write everything queued so far. Never rejects; failures are logged and the rows kept. */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain()
      .catch((error) => this.#log?.error("the read audit writer failed", { error }))
      .finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** Stop the timer and write what is left; rows that still cannot be written are logged. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
    if (this.#pending.length > 0) {
      this.#log?.error("read audit rows lost at shutdown: the database is unavailable", {
        rows: this.#pending.length,
      });
    }
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.slice(0, this.#batchSize);
      try {
        await this.#insert(batch);
      } catch (error) {
        if (!refusedForData(error)) {
          this.#markDown(error);
          return;
        }
        // The data of some row was refused: find it row by row, so it cannot hold the rest back.
        if (!await this.#oneByOne(batch)) return;
        continue;
      }
      this.#written(batch.length);
    }
  }

  /** Insert `batch` row by row, dead-lettering refused rows. False when the connection failed. */
  async #oneByOne(batch: AuditRecord[]): Promise<boolean> {
    for (const row of batch) {
      try {
        await this.#insert([row]);
      } catch (error) {
        if (!refusedForData(error)) {
          this.#markDown(error);
          return false;
        }
        if (!await this.#reject(row, error)) return false;
        this.#pending.splice(0, 1);
        this.#metrics?.auditPending.set(this.#pending.length);
        continue;
      }
      this.#written(1);
    }
    return true;
  }

  /** Keep a refused row in `des_read_audit_rejected`. False when the connection failed. */
  async #reject(row: AuditRecord, refusal: unknown): Promise<boolean> {
    const error = `${sqlStateOf(refusal)}: ${(refusal as Error).message ?? String(refusal)}`;
    this.#metrics?.auditRejected.inc();
    this.#log?.warn("the database refused a read audit row; kept in des_read_audit_rejected", {
      row: JSON.stringify(row),
      error,
    });
    try {
      await this.#db.query(
        "insert into des_read_audit_rejected (row_json, error) values ($1, $2)",
        [JSON.stringify(row), cleanAuditText(error)],
      );
    } catch (failure) {
      if (!refusedForData(failure)) {
        this.#markDown(failure);
        return false;
      }
      this.#log?.error("a refused read audit row could not be kept either; dropped", {
        error: failure,
      });
    }
    return true;
  }

  #written(rows: number): void {
    if (this.#down !== undefined) this.#log?.info("the read audit database is back", {});
    this.#down = undefined;
    this.#pending.splice(0, rows);
    this.#metrics?.auditWritten.inc({}, rows);
    this.#metrics?.auditPending.set(this.#pending.length);
  }

  #markDown(error: unknown): void {
    // One warning per outage, not one per flush.
    if (this.#down === undefined) {
      this.#log?.warn("could not write the read audit; will retry", {
        rows: this.#pending.length,
        error,
      });
    }
    this.#down = (error as Error)?.message ?? String(error);
  }

  async #insert(rows: AuditRecord[]): Promise<void> {
    await insertReadAudit(this.#db, rows);
  }
}
