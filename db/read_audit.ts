/**
 * The read audit trail: the gateway buffers one entry per served read and
 * writes them in batches, one statement per batch. On PostgreSQL that is an
 * `unnest` insert: eight array parameters whatever the batch size, so the
 * statement text is always the same and the cost per row is the row itself.
 * On the embedded engine it is a `COPY` of the rows as text
 * (`copy_text.ts`): binding eight arrays there costs more than the insert
 * itself, and `COPY` inserts the rows in bulk.
 *
 * @module
 */

import { canCopyRows, copyTextValue, type DbCopyRows } from "./copy_text.ts";
import type { DbQuery } from "./db.ts";

/** One served read. */
export interface ReadAuditEntry {
  /** When it was served. */
  at: Date;
  /** The DES name asked for. */
  name: string;
  /** HTTP status returned. */
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Client identity (user, key id or address), if known. */
  client?: string | null;
  /** Trace id, if known. */
  traceId?: string | null;
  /** HTTP method, if known. */
  method?: string | null;
  /** Operation id of the route (`getFile`, …), if known. */
  route?: string | null;
}

/** Rows per insert statement. */
export const AUDIT_BATCH_ROWS = 10_000;

/** The columns written, in the order of the `COPY` text. */
const COLUMNS = ["at", "name", "status", "bytes", "client", "trace_id", "method", "route"] as const;

/**
 * Insert entries in batches of {@linkcode AUDIT_BATCH_ROWS}, each batch
 * all or nothing. Returns the number inserted.
 */
export async function insertReadAudit(
  db: DbQuery,
  entries: readonly ReadAuditEntry[],
): Promise<number> {
  for (let i = 0; i < entries.length; i += AUDIT_BATCH_ROWS) {
    const batch = i === 0 && entries.length <= AUDIT_BATCH_ROWS
      ? entries
      : entries.slice(i, i + AUDIT_BATCH_ROWS);
    if (canCopyRows(db)) await copyBatch(db, batch);
    else await insertBatch(db, batch);
  }
  return entries.length;
}

/** One batch as `COPY` text. */
function copyBatch(db: DbCopyRows, batch: readonly ReadAuditEntry[]): Promise<void> {
  let text = "";
  for (const e of batch) {
    text += `${e.at.toISOString()}\t${copyTextValue(e.name)}\t${e.status}\t${e.bytes}\t${
      copyTextValue(e.client)
    }\t${copyTextValue(e.traceId)}\t${copyTextValue(e.method)}\t${copyTextValue(e.route)}\n`;
  }
  return db.copyRows("des_read_audit", COLUMNS, text);
}

/** One batch as a single `unnest` insert of eight arrays. */
async function insertBatch(db: DbQuery, batch: readonly ReadAuditEntry[]): Promise<void> {
  const at = new Array<Date>(batch.length);
  const name = new Array<string>(batch.length);
  const status = new Array<number>(batch.length);
  const bytes = new Array<number>(batch.length);
  const client = new Array<string | null>(batch.length);
  const traceId = new Array<string | null>(batch.length);
  const method = new Array<string | null>(batch.length);
  const route = new Array<string | null>(batch.length);
  for (let k = 0; k < batch.length; k++) {
    const e = batch[k];
    at[k] = e.at;
    name[k] = e.name;
    status[k] = e.status;
    bytes[k] = e.bytes;
    client[k] = e.client ?? null;
    traceId[k] = e.traceId ?? null;
    method[k] = e.method ?? null;
    route[k] = e.route ?? null;
  }
  await db.query(
    `insert into des_read_audit (at, name, status, bytes, client, trace_id, method, route)
     select * from unnest($1::timestamptz[], $2::text[], $3::smallint[], $4::bigint[],
                          $5::text[], $6::text[], $7::text[], $8::text[])`,
    [at, name, status, bytes, client, traceId, method, route],
  );
}
