/**
 * The type and size rules of the parent contract, checked at start-up
 * without writing anything: the name and container columns hold the longest
 * value DES writes, the shard column holds the largest shard, every
 * configured status value is accepted by the status column (its type, enum,
 * length, domain and single-column CHECK constraints), and the `where`
 * predicate parses against the table (`EXPLAIN`, which plans but does not
 * run it). Each problem names the column and the size it needs.
 *
 * @module
 */

import type { DbQuery } from "../db/db.ts";
import { quoteIdentPart } from "../db/quote_ident.ts";
import {
  type ContractNeeds,
  neededContainerLength,
  neededMaxShard,
  neededNameLength,
} from "./contract_needs.ts";
import type { SourceConfig } from "./sources.ts";

/** What the database says about one column. */
export interface ColumnInfo {
  /** Column name. */
  name: string;
  /** `information_schema` data type (`character varying`, `USER-DEFINED`, …). */
  dataType: string;
  /** The type as SQL, usable in a cast (`character varying(40)`, `catalog."Doc State"`). */
  sqlType: string;
  /** Declared length of a character type, else `null`. */
  maxLength: number | null;
  /** Declared precision of a numeric type, else `null`. */
  precision: number | null;
  /** Declared scale of a numeric type, else `null`. */
  scale: number | null;
  /** Column number in the table. */
  attnum: number;
}

/** Data types that hold text. */
export const TEXT_TYPES = ["text", "character varying", "character"];

const INTEGER_MAX: Record<string, number> = {
  smallint: 32_767,
  integer: 2_147_483_647,
  bigint: Number.MAX_SAFE_INTEGER,
};

/**
 * Check the rules that need no configuration beyond the source (status
 * values, `where`) and, when `needs` is given, the sizes of the name,
 * container and shard columns. Appends one line per problem to `problems`.
 */
export async function checkColumnRules(
  db: DbQuery,
  source: SourceConfig,
  table: string,
  columns: Map<string, ColumnInfo>,
  problems: string[],
  needs?: ContractNeeds,
): Promise<void> {
  const col = (role: keyof SourceConfig["columns"]) => {
    const name = source.columns[role];
    return name ? columns.get(name) : undefined;
  };
  if (needs) {
    const name = col("des_name");
    const length = neededNameLength(needs);
    checkText(
      problems,
      "des_name",
      name,
      length,
      () =>
        `the longest DES name has ${length} characters ` +
        `(DES_NAME_PREFIX=${JSON.stringify(needs.namePrefix)}, DES_SHARD_BITS=${needs.shardBits})`,
    );
    const container = col("container");
    const location = neededContainerLength(needs, source.name);
    checkText(
      problems,
      "container",
      container,
      location,
      () =>
        `the container locations the packer writes have ${location} characters ` +
        `(${needs.archiveUrl.replace(/\/+$/, "")}/${source.name}/<shard>/<container id>.des)`,
    );
    checkShard(problems, col("des_shard"), neededMaxShard(needs), needs.shardBits);
  }
  const status = col("status");
  if (status) await checkStatuses(db, source, table, status, problems);
  if (source.where) {
    try {
      await db.query(`EXPLAIN SELECT 1 FROM ${table} WHERE (${source.where})`);
    } catch (error) {
      problems.push(
        `where ${JSON.stringify(source.where)} does not work on ${table}: ${oneLine(error)}`,
      );
    }
  }
}

function checkText(
  problems: string[],
  role: string,
  column: ColumnInfo | undefined,
  needed: number,
  why: () => string,
): void {
  if (!column) return;
  if (!TEXT_TYPES.includes(column.dataType)) {
    problems.push(
      `columns.${role}: column "${column.name}" is ${column.sqlType}, which cannot hold text; ` +
        `${why()}: use varchar(${needed}) or text`,
    );
  } else if (column.maxLength !== null && column.maxLength < needed) {
    problems.push(
      `columns.${role}: column "${column.name}" is ${column.sqlType}, too short: ${why()}; ` +
        `it needs at least ${needed} characters (varchar(${needed}) or text)`,
    );
  }
}

function checkShard(
  problems: string[],
  column: ColumnInfo | undefined,
  maxShard: number,
  shardBits: number,
): void {
  if (!column) return;
  let max = INTEGER_MAX[column.dataType];
  if (column.dataType === "numeric") {
    max = column.precision === null
      ? Number.MAX_SAFE_INTEGER
      : 10 ** (column.precision - (column.scale ?? 0)) - 1;
  }
  if (max !== undefined && max < maxShard) {
    problems.push(
      `columns.des_shard: column "${column.name}" is ${column.sqlType} (up to ${max}), but ` +
        `DES_SHARD_BITS=${shardBits} needs shards up to ${maxShard}: use integer`,
    );
  }
}

async function checkStatuses(
  db: DbQuery,
  source: SourceConfig,
  table: string,
  column: ColumnInfo,
  problems: string[],
): Promise<void> {
  const checks = await db.query<{ name: string; expr: string }>(
    `SELECT conname::text AS name, pg_get_expr(conbin, conrelid) AS expr
       FROM pg_catalog.pg_constraint
      WHERE conrelid = to_regclass($1) AND contype = 'c' AND conkey = ARRAY[$2::int2]`,
    [table, column.attnum],
  );
  const ident = quoteIdentPart(column.name);
  for (const [role, value] of Object.entries(source.statuses)) {
    const where = `statuses.${role}: value ${JSON.stringify(value)}`;
    let stored: string;
    try {
      const [row] = await db.query<{ v: string }>(
        `SELECT $1::text::${column.sqlType}::text AS v`,
        [value],
      );
      stored = row.v;
    } catch (error) {
      problems.push(
        `${where} is not a valid ${column.sqlType} for column "${column.name}": ${oneLine(error)}`,
      );
      continue;
    }
    if (stored !== value) {
      problems.push(
        `${where} does not fit column "${column.name}" (${column.sqlType}): ` +
          `it would be stored as ${JSON.stringify(stored)}` +
          (column.maxLength !== null && value.length > column.maxLength
            ? `; it needs at least ${value.length} characters`
            : ""),
      );
      continue;
    }
    for (const check of checks) {
      const ok = await db.query<{ ok: boolean }>(
        `SELECT (${check.expr}) IS NOT FALSE AS ok
           FROM (SELECT $1::text::${column.sqlType} AS ${ident}) AS t`,
        [value],
      ).then((rows) => rows[0].ok, () => true); // an expression that cannot run alone is left to the table
      if (!ok) {
        problems.push(
          `${where} is refused by CHECK constraint "${check.name}" on column "${column.name}" ` +
            `(${check.expr})`,
        );
      }
    }
  }
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
}
