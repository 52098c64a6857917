/**
 * {@linkcode ParentTable}: every read and write DES makes on a parent's
 * catalog table — marking eligible rows, listing marked rows per shard,
 * flipping packed rows, moving rows to the failed status — as set-based SQL
 * built from the source configuration.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import { type Db, type DbTx, PREPARED } from "../db/db.ts";
import { shardHexWidth } from "../naming/name_codec.ts";
import type { NameGenerator } from "../naming/name_generator.ts";
import { ParentSql } from "./parent_sql.ts";
import { checkSourceAgainstDb, type SourceSchema } from "./source_check.ts";
import type { SourceConfig } from "./sources.ts";
import { describeDbError, isTransientDbError } from "./transient.ts";

/** A marked row, as the packer needs it. */
export interface ParentRow {
  /** The parent's id, as text. */
  id: string;
  /** Where the original is (see `openOriginals`); `""` when the column is NULL. */
  location: string;
  /** The DES name assigned by the marker. */
  desName: string;
  /** The shard of the name. */
  shard: number;
  /** Size in bytes, when the source has a size column. */
  size?: number;
  /** MIME type, when the source has a content type column. */
  contentType?: string;
  /** When the parent created the row. */
  createdAt: Date;
}

/** Options of {@linkcode ParentTable.markBatch}. */
export interface MarkBatchOptions {
  /** Hands out the names. */
  names: NameGenerator;
  /** Rows to mark at most. */
  limit: number;
  /** Eligible age in days (default: the source's `max_age_days`). */
  maxAgeDays?: number;
  /** The current time (default: now). */
  now?: Date;
}

/** A row that could not be marked, with the database's reason. */
export interface FailedRow {
  /** The parent's id. */
  id: string;
  /** Why it failed. */
  reason: string;
}

/** What {@linkcode ParentTable.markBatchIsolating} did. */
export interface IsolatedMarkResult {
  /** Rows marked. */
  marked: number;
  /** Rows moved to the failed status. */
  failed: FailedRow[];
}

/** A parent row that asks DES to delete its file. */
export interface DeleteRequestRow {
  /** The parent's id, as text. */
  id: string;
  /** Its DES name. */
  desName: string;
  /** The shard recorded with the name. */
  shard: number;
}

/** What the caller of {@linkcode ParentTable.settleDeleteRequests} decided per row. */
export interface DeleteSettlement {
  /** Rows whose bytes are gone: moved to the purged status. */
  purged: readonly { id: string; desName: string }[];
  /** Rows whose delete failed: moved to the failed status with the reason. */
  failed: readonly FailedRow[];
}

/** What one {@linkcode ParentTable.settleDeleteRequests} call did. */
export interface DeleteBatchResult {
  /** Rows locked and handed to the caller (0: none left after `afterName`). */
  rows: number;
  /** Last name of the batch, to pass as the next `afterName`. */
  lastName?: string;
  /** Rows moved to purged. */
  purged: number;
  /** Rows moved to failed. */
  failed: number;
}

/** Row counts per lifecycle status; `other` counts rows in any other status. */
export interface StatusCounts {
  /** Rows in the eligible status (of any age). */
  eligible: number;
  /** Marked rows waiting for the packer. */
  marked: number;
  /** Packed rows. */
  packed: number;
  /** Failed rows. */
  failed: number;
  /** Rows in statuses DES does not manage. */
  other: number;
}

const DAY_MS = 86_400_000;

/**
 * Batch updates join a few thousand ids to the table. Without these settings
 * the planner may hash the whole table for every batch when it is small
 * enough; primary-key lookups keep the cost proportional to the batch.
 */
const INDEX_JOINS = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

interface NamedRows {
  names: string[];
  shards: number[];
}

/** The parent's catalog table of one source. */
export class ParentTable {
  /** The source configuration. */
  readonly source: SourceConfig;
  readonly #db: Db;
  #sql?: Promise<ParentSql>;

  /**
   * @param db connection to the parent database
   * @param source the validated source
   * @param schema the result of `checkSourceAgainstDb` (checked on first use when omitted)
   */
  constructor(db: Db, source: SourceConfig, schema?: SourceSchema) {
    this.#db = db;
    this.source = source;
    if (schema) {
      this.#sql = Promise.resolve(new ParentSql(source, schema.idType, schema.errorLength));
    }
  }

  #statements(): Promise<ParentSql> {
    this.#sql ??= checkSourceAgainstDb(this.#db, this.source).then(
      (schema) => new ParentSql(this.source, schema.idType, schema.errorLength),
      (err) => {
        this.#sql = undefined;
        throw err;
      },
    );
    return this.#sql;
  }

  /** The creation time before which rows are eligible. */
  cutoff(maxAgeDays = this.source.maxAgeDays, now = new Date()): Date {
    return new Date(now.getTime() - maxAgeDays * DAY_MS);
  }

  /**
   * Mark up to `limit` eligible rows, oldest first, with one statement (one
   * round trip, atomic): lock them with `FOR UPDATE SKIP LOCKED` (so
   * concurrent markers take disjoint rows) and give them the names made for
   * the batch, sent as one array, the oldest row the first name. Returns the
   * number of rows marked; 0 when nothing eligible is left unlocked.
   */
  async markBatch(options: MarkBatchOptions): Promise<number> {
    const sql = await this.#statements();
    const cutoff = this.cutoff(options.maxAgeDays, options.now).toISOString();
    checkLimit(options.limit);
    const named = nameRows(options.names, options.limit);
    // One statement, so one round trip and its own transaction: lock, name, update.
    const [row] = await this.#db.query<{ n: number }>(sql.markEligible, [
      cutoff,
      options.limit,
      named.names,
      named.shards,
    ]);
    return row.n;
  }

  /**
   * Like {@linkcode markBatch}, but a row whose update fails for a
   * non-transient reason (a parent constraint, a trigger) is isolated: the
   * batch is split in halves, each marked in its own transaction, until the
   * failing rows stand alone; those are moved to the failed status with the
   * database's reason and the others are marked.
   */
  async markBatchIsolating(options: MarkBatchOptions): Promise<IsolatedMarkResult> {
    const sql = await this.#statements();
    const cutoff = this.cutoff(options.maxAgeDays, options.now).toISOString();
    checkLimit(options.limit);
    const candidates = await this.#db.transaction((tx) =>
      tx.query<{ id: string }>(sql.selectEligible, [cutoff, options.limit])
    );
    const failed: FailedRow[] = [];
    const marked = await this.#markSplitting(sql, candidates.map((r) => r.id), options, failed);
    if (failed.length === 0) return { marked, failed };
    const moved = new Set(
      (await this.#db.query<{ id: string }>(sql.markFailed, [
        failed.map((f) => f.id),
        failed.map((f) => f.reason),
      ])).map((r) => r.id),
    );
    // A row another marker dead-lettered first is not counted twice.
    return { marked, failed: failed.filter((f) => moved.has(f.id)) };
  }

  async #markSplitting(
    sql: ParentSql,
    ids: string[],
    options: MarkBatchOptions,
    failed: FailedRow[],
  ): Promise<number> {
    if (ids.length === 0) return 0;
    try {
      return await this.#db.transaction(async (tx) => {
        await tx.exec(INDEX_JOINS);
        const locked = await tx.query<{ id: string }>(sql.lockEligibleIds, [ids]);
        if (locked.length === 0) return 0;
        return await updateMarks(tx, sql, locked.map((r) => r.id), options.names);
      });
    } catch (err) {
      if (isTransientDbError(err)) throw err;
      if (ids.length === 1) {
        failed.push({ id: ids[0], reason: describeDbError(err) });
        return 0;
      }
      const half = Math.ceil(ids.length / 2);
      const left = await this.#markSplitting(sql, ids.slice(0, half), options, failed);
      return left + await this.#markSplitting(sql, ids.slice(half), options, failed);
    }
  }

  /** How many rows are eligible now (old enough, matching the extra predicate). */
  async countEligible(maxAgeDays?: number, now?: Date): Promise<number> {
    const sql = await this.#statements();
    const [row] = await this.#db.query<{ n: number }>(sql.countEligible, [
      this.cutoff(maxAgeDays, now).toISOString(),
    ]);
    return row.n;
  }

  /**
   * Marked rows of `shard` in name order, `limit` at a time; pass the last
   * name of a page as `afterName` for the next one.
   */
  async markedRows(
    options: { shard: number; limit: number; afterName?: string },
  ): Promise<ParentRow[]> {
    const sql = await this.#statements();
    checkLimit(options.limit);
    const rows = await this.#db.query<RawRow>(
      options.afterName === undefined ? sql.markedRowsFirst : sql.markedRowsAfter,
      options.afterName === undefined
        ? [options.shard, options.limit]
        : [options.shard, options.limit, options.afterName],
      PREPARED,
    );
    return rows.map(toParentRow);
  }

  /**
   * Flip rows to packed with their container location and time, in one
   * statement (one round trip once prepared on the connection; atomic on its
   * own). Only rows still marked with the same name change, so repeating a
   * call changes nothing. Returns the number of rows flipped.
   */
  async markPacked(
    rows: readonly { id: string; desName: string }[],
    containerLocation: string,
    packedAt: Date,
  ): Promise<number> {
    if (rows.length === 0) return 0;
    const sql = await this.#statements();
    const [row] = await this.#db.query<{ n: number }>(sql.markPacked, [
      rows.map((r) => r.id),
      rows.map((r) => r.desName),
      containerLocation,
      packedAt.toISOString(),
    ], PREPARED);
    return row.n;
  }

  /**
   * Point packed rows (still carrying the same name) at another container,
   * e.g. the one holding a repaired copy of their file. Returns the number
   * of rows changed.
   */
  async repointPacked(
    rows: readonly { id: string; desName: string }[],
    containerLocation: string,
  ): Promise<number> {
    if (rows.length === 0) return 0;
    const sql = await this.#statements();
    const [row] = await this.#db.query<{ n: number }>(sql.repointPacked, [
      rows.map((r) => r.id),
      rows.map((r) => r.desName),
      containerLocation,
    ]);
    return row.n;
  }

  /**
   * Move eligible or marked rows to the failed status, writing the reason
   * (one for all, or one per id) into the error column when there is one.
   */
  async markFailed(ids: readonly string[], reason: string | readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const reasons = typeof reason === "string" ? ids.map(() => reason) : [...reason];
    if (reasons.length !== ids.length) {
      throw new DesInputError("markFailed needs one reason per id", {
        ids: ids.length,
        reasons: reasons.length,
      });
    }
    const sql = await this.#statements();
    const rows = await this.#db.query<{ id: string }>(sql.markFailed, [[...ids], reasons]);
    return rows.length;
  }

  /**
   * Which of `locations` a row that is not packed still names (eligible,
   * marked, failed or any status DES does not manage): their originals are
   * still needed and must not be deleted.
   */
  async locationsInUse(locations: readonly string[]): Promise<Set<string>> {
    if (locations.length === 0) return new Set();
    const sql = await this.#statements();
    const rows = await this.#db.query<{ location: string }>(sql.locationsInUse, [[...locations]]);
    return new Set(rows.map((r) => r.location));
  }

  /** Whether the source has a deletion rule (`statuses.deleted` and `statuses.purged`). */
  get hasDeletionRule(): boolean {
    return this.source.statuses.deleted !== undefined &&
      this.source.statuses.purged !== undefined;
  }

  /**
   * In one transaction: lock up to `limit` rows that ask for a delete (the
   * deletion rule, with a DES name after `afterName`, in name order,
   * `SKIP LOCKED` so several reapers take disjoint rows), let `settle`
   * decide what each became, then move those rows to purged or failed —
   * only while they still have that name and still match the rule — and
   * commit. If `settle` throws, nothing changes.
   */
  async settleDeleteRequests(
    afterName: string,
    limit: number,
    settle: (rows: DeleteRequestRow[]) => Promise<DeleteSettlement>,
  ): Promise<DeleteBatchResult> {
    const sql = await this.#statements();
    if (!sql.deleteRequested || !sql.markPurged || !sql.markDeleteFailed) {
      throw new DesInputError(`source ${this.source.name} has no deletion rule`, {
        source: this.source.name,
      });
    }
    checkLimit(limit);
    const { deleteRequested, markPurged, markDeleteFailed } = sql;
    return await this.#db.transaction(async (tx) => {
      const raw = await tx.query<{ id: string; des_name: string; shard: number }>(
        deleteRequested,
        [afterName, limit],
      );
      const rows = raw.map((r) => ({ id: r.id, desName: r.des_name, shard: r.shard }));
      if (rows.length === 0) return { rows: 0, purged: 0, failed: 0 };
      const decided = await settle(rows);
      await tx.exec(INDEX_JOINS);
      const purged = decided.purged.length === 0 ? [] : await tx.query(markPurged, [
        decided.purged.map((r) => r.id),
        decided.purged.map((r) => r.desName),
      ]);
      const failed = decided.failed.length === 0 ? [] : await tx.query(markDeleteFailed, [
        decided.failed.map((r) => r.id),
        decided.failed.map((r) => r.reason),
      ]);
      return {
        rows: rows.length,
        lastName: rows[rows.length - 1].desName,
        purged: purged.length,
        failed: failed.length,
      };
    });
  }

  /** Rows per lifecycle status. */
  async countByStatus(): Promise<StatusCounts> {
    const sql = await this.#statements();
    const rows = await this.#db.query<{ status: string; n: number }>(sql.countByStatus);
    const counts: StatusCounts = { eligible: 0, marked: 0, packed: 0, failed: 0, other: 0 };
    const roles = (["eligible", "marked", "packed", "failed"] as const).map(
      (role) => [role, this.source.statuses[role]] as const,
    );
    for (const { status, n } of rows) {
      const role = roles.find(([, value]) => value === status)?.[0] ?? "other";
      counts[role] += n;
    }
    return counts;
  }
}

interface RawRow {
  id: string;
  location: string | null;
  des_name: string;
  shard: number;
  size: number | bigint | null;
  content_type: string | null;
  created_at: Date | string;
}

function toParentRow(r: RawRow): ParentRow {
  const row: ParentRow = {
    id: r.id,
    location: r.location ?? "",
    desName: r.des_name,
    shard: r.shard,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
  };
  if (r.size !== null) row.size = Number(r.size);
  if (r.content_type !== null) row.contentType = r.content_type;
  return row;
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new DesInputError(`limit must be a positive integer, got ${limit}`, { limit });
  }
}

/** Names and their shards for `count` rows. */
function nameRows(names: NameGenerator, count: number): NamedRows {
  const list = names.nextBatch(count);
  const { prefix, shardBits } = names.config;
  const start = prefix === "" ? 0 : prefix.length + 1;
  const end = start + shardHexWidth(shardBits);
  const shards = list.map((name) => parseInt(name.slice(start, end), 16));
  return { names: list, shards };
}

async function updateMarks(
  tx: DbTx,
  sql: ParentSql,
  ids: string[],
  names: NameGenerator,
): Promise<number> {
  const named = nameRows(names, ids.length);
  const [row] = await tx.query<{ n: number }>(sql.markUpdate, [ids, named.names, named.shards]);
  return row.n;
}
