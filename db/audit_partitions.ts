/**
 * Day partitions of the read audit (`des_read_audit`, partitioned by range
 * on `at` since schema version 5): create them ahead and drop the ones past
 * the retention, whole, never with a row-by-row DELETE.
 *
 * One maintainer at a time: the work runs in one transaction that first
 * tries a transaction-scoped advisory lock; a second maintainer that finds
 * it taken does nothing and says so. Several gateways can therefore all run
 * it on a timer, and `des audit-maintain` from cron beside them.
 *
 * Rows that land in the default partition (their day had no partition yet:
 * a gateway wrote before the first maintenance, or its clock is far off) are
 * moved into the day's partition when it is created; those older than the
 * retention are deleted from the default partition (the only DELETE, and
 * only of such strays).
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import type { Db, DbTx } from "./db.ts";
import { quoteIdent } from "./quote_ident.ts";

/** Key of the advisory lock of the maintainer ("DESAUDIT" as an int64). */
export const AUDIT_MAINTENANCE_LOCK_KEY = "4919429708040653140";

/** The default partition: rows no day partition covers. */
export const AUDIT_DEFAULT_PARTITION = "des_read_audit_default";

const DAY_MS = 86_400_000;
const COLUMNS = "id, at, name, status, bytes, client, trace_id, method, route";

/** One partition of `des_read_audit`. */
export interface AuditPartition {
  /** Table name. */
  name: string;
  /** Lower bound (inclusive); null for MINVALUE or the default partition. */
  from: Date | null;
  /** Upper bound (exclusive); null for MAXVALUE or the default partition. */
  to: Date | null;
  /** Whether it is the default partition. */
  isDefault: boolean;
}

/** Options of {@linkcode maintainAuditPartitions}. */
export interface AuditMaintenanceOptions {
  /** Keep this many whole UTC days before today; 0 keeps everything. */
  retentionDays: number;
  /** Have partitions from today to today + this many days. */
  aheadDays: number;
  /** The clock (default now). */
  now?: Date;
}

/** What {@linkcode maintainAuditPartitions} did. */
export interface AuditMaintenanceResult {
  /** False when another maintainer held the lock (nothing was done). */
  ran: boolean;
  /** Partitions created, oldest first. */
  created: string[];
  /** Partitions dropped. */
  dropped: string[];
  /** Rows moved from the default partition into new day partitions. */
  movedRows: number;
  /** Rows older than the retention deleted from the default partition. */
  deletedDefaultRows: number;
}

/** Name of the partition of the UTC day starting at `day`: `des_read_audit_pYYYYMMDD`. */
export function auditPartitionName(day: Date): string {
  return `des_read_audit_p${day.toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** Start of the UTC day of `at`. */
export function utcDay(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

/** The partitions of `des_read_audit`, by lower bound (MINVALUE and default first). */
export function auditPartitions(db: DbTx): Promise<AuditPartition[]> {
  return db.query<AuditPartition>(
    `select c.relname as name,
       pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' as "isDefault",
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz
         as "from",
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz
         as "to"
     from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'des_read_audit'::regclass
     order by "from" nulls first, c.relname`,
  );
}

async function checkPartitioned(tx: DbTx): Promise<void> {
  const [row] = await tx.query<{ kind: string | null }>(
    "select relkind::text as kind from pg_class where oid = to_regclass('des_read_audit')",
  );
  if (row?.kind !== "p") {
    throw new DesConfigError(
      "des_read_audit is not partitioned (metadata schema older than version 5): run `des migrate`",
      { relkind: row?.kind ?? null },
    );
  }
}

function overlaps(p: AuditPartition, from: Date, to: Date): boolean {
  if (p.isDefault) return false;
  return (p.from?.getTime() ?? -Infinity) < to.getTime() &&
    (p.to?.getTime() ?? Infinity) > from.getTime();
}

/** Create the partition of `day` and move the default partition's rows of that day into it. */
async function createDay(tx: DbTx, day: Date): Promise<number> {
  const name = quoteIdent(auditPartitionName(day));
  const from = day.toISOString();
  const to = new Date(day.getTime() + DAY_MS).toISOString();
  await tx.exec(`create table ${name} (like des_read_audit including defaults)`);
  const [{ n }] = await tx.query<{ n: number }>(
    `with moved as (
       delete from ${AUDIT_DEFAULT_PARTITION} where at >= $1 and at < $2 returning ${COLUMNS}
     ), ins as (insert into ${name} (${COLUMNS}) select ${COLUMNS} from moved returning 1)
     select count(*)::int as n from ins`,
    [day, new Date(day.getTime() + DAY_MS)],
  );
  await tx.exec(
    `alter table des_read_audit attach partition ${name} for values from ('${from}') to ('${to}')`,
  );
  return n;
}

/** Days that have rows in the default partition, within `[from, to)`. */
async function strayDays(tx: DbTx, from: Date | null, to: Date): Promise<Date[]> {
  const rows = await tx.query<{ day: Date }>(
    `select distinct date_trunc('day', at, 'UTC') as day from ${AUDIT_DEFAULT_PARTITION}
     where ($1::timestamptz is null or at >= $1) and at < $2 order by 1`,
    [from, to],
  );
  return rows.map((r) => r.day);
}

/**
 * Create the day partitions from today to today + `aheadDays` (and those of
 * days with rows waiting in the default partition), and drop the partitions
 * whose every row is older than `retentionDays` whole days. Throws
 * `DesConfigError` when the schema is older than version 5.
 */
export function maintainAuditPartitions(
  db: Db,
  options: AuditMaintenanceOptions,
): Promise<AuditMaintenanceResult> {
  const today = utcDay(options.now ?? new Date());
  const horizon = new Date(today.getTime() + (options.aheadDays + 1) * DAY_MS);
  const cutoff = options.retentionDays > 0
    ? new Date(today.getTime() - options.retentionDays * DAY_MS)
    : null;
  return db.transaction(async (tx) => {
    const result: AuditMaintenanceResult = {
      ran: false,
      created: [],
      dropped: [],
      movedRows: 0,
      deletedDefaultRows: 0,
    };
    const [{ locked }] = await tx.query<{ locked: boolean }>(
      "select pg_try_advisory_xact_lock($1::bigint) as locked",
      [AUDIT_MAINTENANCE_LOCK_KEY],
    );
    if (!locked) return result;
    result.ran = true;
    await checkPartitioned(tx);
    let partitions = await auditPartitions(tx);
    if (cutoff) {
      for (const p of partitions) {
        if (!p.isDefault && p.to && p.to.getTime() <= cutoff.getTime()) {
          await tx.exec(`drop table ${quoteIdent(p.name)}`);
          result.dropped.push(p.name);
        }
      }
      const [{ n }] = await tx.query<{ n: number }>(
        `with d as (delete from ${AUDIT_DEFAULT_PARTITION} where at < $1 returning 1)
         select count(*)::int as n from d`,
        [cutoff],
      );
      result.deletedDefaultRows = n;
      partitions = partitions.filter((p) => !result.dropped.includes(p.name));
    }
    const days = new Map<number, Date>();
    for (const day of await strayDays(tx, cutoff, horizon)) days.set(day.getTime(), day);
    for (let t = today.getTime(); t < horizon.getTime(); t += DAY_MS) days.set(t, new Date(t));
    for (const [t, day] of [...days].sort((a, b) => a[0] - b[0])) {
      const end = new Date(t + DAY_MS);
      if (partitions.some((p) => overlaps(p, day, end))) continue;
      result.movedRows += await createDay(tx, day);
      result.created.push(auditPartitionName(day));
      partitions.push({ name: auditPartitionName(day), from: day, to: end, isDefault: false });
    }
    return result;
  });
}
