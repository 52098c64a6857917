/**
 * The SQL text the parent contract runs, built once per source from its
 * configuration: identifiers quoted, status values inlined as literals (so a
 * partial index on the eligible status can be used), everything else passed
 * as `$n` parameters. Ids travel as `text[]` and are cast to the id type.
 *
 * @module
 */

import { quoteIdentPart } from "../db/quote_ident.ts";
import { qualifiedTable } from "./source_check.ts";
import type { IdType } from "./source_check.ts";
import type { SourceConfig } from "./sources.ts";

/** A SQL string literal: `'text'` with quotes doubled. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Every statement of the parent contract for one source. */
export class ParentSql {
  /** `$1` cutoff (timestamptz), `$2` limit → `id` (text) of locked eligible rows, oldest first. */
  readonly selectEligible: string;
  /**
   * `$1` cutoff, `$2` limit, `$3` names, `$4` shards → `n`: one statement that
   * locks up to `$2` eligible rows oldest first (`SKIP LOCKED`) and gives the
   * k-th oldest the k-th name and shard.
   */
  readonly markEligible: string;
  /** `$1` ids → `id` of those still eligible, locked (`SKIP LOCKED`). */
  readonly lockEligibleIds: string;
  /** `$1` cutoff → `n`: eligible rows old enough and matching the extra predicate. */
  readonly countEligible: string;
  /** `$1` ids, `$2` names, `$3` shards → `n` rows moved from eligible to marked. */
  readonly markUpdate: string;
  /** `$1` shard, `$2` limit → marked rows of the shard ordered by name. */
  readonly markedRowsFirst: string;
  /** `$1` shard, `$2` limit, `$3` after-name → the next page. */
  readonly markedRowsAfter: string;
  /** `$1` ids, `$2` names, `$3` container, `$4` packed-at → `n` rows moved from marked to packed. */
  readonly markPacked: string;
  /** `$1` ids, `$2` names, `$3` container → `n` packed rows pointed at another container. */
  readonly repointPacked: string;
  /** `$1` ids, `$2` reasons → `id` of each row moved from eligible or marked to failed. */
  readonly markFailed: string;
  /** → `status` (text), `n` for every status value present. */
  readonly countByStatus: string;
  /** `$1` locations → `location` of each that a row not packed (any other status) still names. */
  readonly locationsInUse: string;
  /**
   * With a deletion rule: `$1` after-name, `$2` limit → `id`, `des_name`,
   * `shard` of rows that ask for a delete, in name order, locked
   * (`SKIP LOCKED`). Absent without a deletion rule.
   */
  readonly deleteRequested?: string;
  /** `$1` ids, `$2` names → `id` of rows moved from the deletion rule to purged. */
  readonly markPurged?: string;
  /** `$1` ids, `$2` reasons → `id` of rows moved from the deletion rule to failed. */
  readonly markDeleteFailed?: string;

  /**
   * @param source the validated source
   * @param idType the detected id column type
   * @param errorLength declared length of the error column (reasons are cut to fit)
   */
  constructor(source: SourceConfig, idType: IdType, errorLength?: number) {
    const t = qualifiedTable(source);
    const c = Object.fromEntries(
      Object.entries(source.columns).map(([role, name]) => [role, quoteIdentPart(name as string)]),
    ) as Record<keyof SourceConfig["columns"], string>;
    const s = {
      eligible: quoteLiteral(source.statuses.eligible),
      marked: quoteLiteral(source.statuses.marked),
      packed: quoteLiteral(source.statuses.packed),
      failed: quoteLiteral(source.statuses.failed),
    };
    const id = idType === "text" ? "u.id" : `u.id::${idType}`;
    const extra = source.where ? ` AND (${source.where})` : "";
    const eligibleWhere =
      `${c.status} = ${s.eligible} AND ${c.created_at} < $1::timestamptz${extra}`;
    const clearError = c.error ? `, ${c.error} = NULL` : "";

    this.selectEligible = `SELECT ${c.id}::text AS id FROM ${t} WHERE ${eligibleWhere}
      ORDER BY ${c.created_at} LIMIT $2 FOR UPDATE SKIP LOCKED`;
    // ARRAY(…) keeps the age order for WITH ORDINALITY, and unnest of it is
    // estimated at a handful of rows, so the update probes the id index once
    // per row instead of hashing the table, without any planner setting. The
    // names are read as name[] (fixed width, at most 63 bytes; DES names are
    // far shorter): finding the k-th element of a text[] walks k elements.
    this.markEligible = `WITH done AS (
      UPDATE ${t} AS p SET ${c.status} = ${s.marked},
             ${c.des_name} = ($3::text[]::name[])[u.k]::text,
             ${c.des_shard} = ($4::int[])[u.k]${clearError}
        FROM unnest(ARRAY(SELECT ${c.id} FROM ${t} WHERE ${eligibleWhere}
               ORDER BY ${c.created_at} LIMIT $2 FOR UPDATE SKIP LOCKED)) WITH ORDINALITY AS u(id, k)
       WHERE p.${c.id} = u.id AND p.${c.status} = ${s.eligible}
      RETURNING 1) SELECT count(*)::int AS n FROM done`;
    this.lockEligibleIds = `SELECT ${c.id}::text AS id FROM ${t}
      WHERE ${c.id} = ANY($1::${idType}[]) AND ${c.status} = ${s.eligible} FOR UPDATE SKIP LOCKED`;
    this.countEligible = `SELECT count(*)::int AS n FROM ${t} WHERE ${eligibleWhere}`;
    this.markUpdate = `WITH done AS (
      UPDATE ${t} AS p SET ${c.status} = ${s.marked}, ${c.des_name} = u.name,
             ${c.des_shard} = u.shard${clearError}
        FROM unnest($1::text[], $2::text[], $3::int[]) AS u(id, name, shard)
       WHERE p.${c.id} = ${id} AND p.${c.status} = ${s.eligible}
      RETURNING 1) SELECT count(*)::int AS n FROM done`;

    const optional = [
      c.size ? `${c.size}::bigint AS size` : "NULL::bigint AS size",
      c.content_type ? `${c.content_type}::text AS content_type` : "NULL::text AS content_type",
    ].join(", ");
    const rowSelect = `SELECT ${c.id}::text AS id, ${c.location}::text AS location,
      ${c.des_name}::text AS des_name, ${c.des_shard}::int AS shard, ${optional},
      ${c.created_at}::timestamptz AS created_at FROM ${t}
      WHERE ${c.status} = ${s.marked} AND ${c.des_shard} = $1`;
    this.markedRowsFirst = `${rowSelect} ORDER BY ${c.des_name} LIMIT $2`;
    this.markedRowsAfter = `${rowSelect} AND ${c.des_name} > $3 ORDER BY ${c.des_name} LIMIT $2`;

    // The arrays are read through sub-selects: the planner then estimates a
    // handful of rows (it cannot see their length) and probes the id index
    // once per row instead of hashing the table, without any planner
    // setting, so the flip is one statement and needs no transaction.
    this.markPacked = `WITH done AS (
      UPDATE ${t} AS p SET ${c.status} = ${s.packed}, ${c.container} = $3,
             ${c.packed_at} = $4::timestamptz
        FROM unnest((SELECT $1::text[]), (SELECT $2::text[])) AS u(id, name)
       WHERE p.${c.id} = ${id} AND p.${c.status} = ${s.marked} AND p.${c.des_name} = u.name
      RETURNING 1) SELECT count(*)::int AS n FROM done`;
    this.repointPacked = `WITH done AS (
      UPDATE ${t} AS p SET ${c.container} = $3
        FROM unnest($1::text[], $2::text[]) AS u(id, name)
       WHERE p.${c.id} = ${id} AND p.${c.status} = ${s.packed} AND p.${c.des_name} = u.name
      RETURNING 1) SELECT count(*)::int AS n FROM done`;
    const reason = errorLength ? `left(u.reason, ${Math.floor(errorLength)})` : "u.reason";
    const setError = c.error ? `, ${c.error} = ${reason}` : "";
    this.markFailed = `UPDATE ${t} AS p SET ${c.status} = ${s.failed}${setError}
        FROM unnest($1::text[], $2::text[]) AS u(id, reason)
       WHERE p.${c.id} = ${id} AND p.${c.status} IN (${s.eligible}, ${s.marked})
      RETURNING p.${c.id}::text AS id`;
    if (source.statuses.deleted !== undefined && source.statuses.purged !== undefined) {
      const purged = quoteLiteral(source.statuses.purged);
      const asked = source.deleteWhere
        ? `(${c.status} = ${quoteLiteral(source.statuses.deleted)} OR (${source.deleteWhere}))`
        : `${c.status} = ${quoteLiteral(source.statuses.deleted)}`;
      // A purged or dead-lettered row is done, whatever delete_where says.
      const rule = `${asked} AND ${c.status} NOT IN (${purged}, ${s.failed})`;
      this.deleteRequested = `SELECT ${c.id}::text AS id, ${c.des_name}::text AS des_name,
        ${c.des_shard}::int AS shard FROM ${t}
        WHERE ${c.des_name} IS NOT NULL AND ${c.des_name} > $1 AND ${rule}
        ORDER BY ${c.des_name} LIMIT $2 FOR UPDATE SKIP LOCKED`;
      // The rule names the table's columns unqualified; the unnest columns get names
      // a parent table is unlikely to have, so that nothing is ambiguous.
      const idOf = idType === "text" ? "u.des_row_id" : `u.des_row_id::${idType}`;
      this.markPurged = `UPDATE ${t} AS p SET ${c.status} = ${purged}${clearError}
        FROM unnest($1::text[], $2::text[]) AS u(des_row_id, des_row_name)
       WHERE p.${c.id} = ${idOf} AND p.${c.des_name} = u.des_row_name AND ${rule}
      RETURNING p.${c.id}::text AS id`;
      const failReason = errorLength
        ? `left(u.des_row_reason, ${Math.floor(errorLength)})`
        : "u.des_row_reason";
      const failError = c.error ? `, ${c.error} = ${failReason}` : "";
      this.markDeleteFailed = `UPDATE ${t} AS p SET ${c.status} = ${s.failed}${failError}
        FROM unnest($1::text[], $2::text[]) AS u(des_row_id, des_row_reason)
       WHERE p.${c.id} = ${idOf} AND ${rule}
      RETURNING p.${c.id}::text AS id`;
    }
    this.countByStatus = `SELECT ${c.status}::text AS status, count(*)::int AS n FROM ${t}
      GROUP BY 1`;
    this.locationsInUse = `SELECT DISTINCT ${c.location}::text AS location FROM ${t}
      WHERE ${c.location} = ANY($1::text[]) AND ${c.status} IS DISTINCT FROM ${s.packed}`;
  }
}
