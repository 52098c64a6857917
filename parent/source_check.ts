/**
 * Check a configured source against the parent database before any write:
 * the table exists, every configured column exists, the id column has a
 * type the marker can cast to, and the types and sizes of the columns DES
 * writes fit what it writes (`column_rules.ts`).
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import type { DbQuery } from "../db/db.ts";
import { quoteIdentPart } from "../db/quote_ident.ts";
import { checkColumnRules, type ColumnInfo, TEXT_TYPES } from "./column_rules.ts";
import type { ContractNeeds } from "./contract_needs.ts";
import type { SourceConfig } from "./sources.ts";

export type { ColumnInfo } from "./column_rules.ts";
export type { ContractNeeds } from "./contract_needs.ts";

/** Id column types the parent contract supports. */
export type IdType = "bigint" | "integer" | "text" | "uuid";

/** What the database says about a source's table. */
export interface SourceSchema {
  /** SQL type of the id column, as used in casts. */
  idType: IdType;
  /** Every column of the table with its `information_schema` data type. */
  columns: Map<string, string>;
  /** Every column of the table with its type details. */
  columnInfo: Map<string, ColumnInfo>;
  /** Declared length of the error column, when it has one (reasons are cut to fit). */
  errorLength?: number;
}

const ID_TYPES: Record<string, IdType> = {
  bigint: "bigint",
  integer: "integer",
  smallint: "integer",
  text: "text",
  "character varying": "text",
  character: "text",
  uuid: "uuid",
};

const INTEGER_TYPES = ["smallint", "integer", "bigint", "numeric"];
const TIME_TYPES = [
  "timestamp with time zone",
  "timestamp without time zone",
  "date",
];

/**
 * The table of `source` as SQL: `"schema"."table"` or `"table"`, each name
 * taken literally. Every configured identifier of a source is quoted by
 * `quoteIdentPart`, here and in `parent_sql.ts` and `column_rules.ts`.
 */
export function qualifiedTable(source: Pick<SourceConfig, "schema" | "table">): string {
  return source.schema
    ? `${quoteIdentPart(source.schema)}.${quoteIdentPart(source.table)}`
    : quoteIdentPart(source.table);
}

/**
 * Check that `source`'s table and columns exist in `db`, detect the id
 * type, and (with `needs`) that the name, container and shard columns hold
 * what DES writes; status values and the `where` predicate are always
 * checked. Nothing is written. Throws {@linkcode DesConfigError} naming the
 * source, the table, each column with its problem and needed size, and the
 * columns that do exist.
 */
export async function checkSourceAgainstDb(
  db: DbQuery,
  source: SourceConfig,
  needs?: ContractNeeds,
): Promise<SourceSchema> {
  const table = qualifiedTable(source);
  const rows = await db.query<RawColumn>(
    `SELECT a.attname::text AS name, c.data_type::text AS data_type,
            format_type(a.atttypid, a.atttypmod) AS sql_type,
            c.character_maximum_length::int AS max_length,
            c.numeric_precision::int AS precision, c.numeric_scale::int AS scale,
            a.attnum::int AS attnum
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class r ON r.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
       JOIN information_schema.columns c
         ON c.table_schema = n.nspname AND c.table_name = r.relname AND c.column_name = a.attname
      WHERE r.oid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  if (rows.length === 0) {
    throw new DesConfigError(
      `source "${source.name}": table ${table} does not exist or has no visible columns`,
      { source: source.name, table },
    );
  }
  const columnInfo = new Map(rows.map((r) => [r.name, toColumnInfo(r)]));
  const columns = new Map(rows.map((r) => [r.name, r.data_type]));
  const problems: string[] = [];
  for (const [role, column] of Object.entries(source.columns)) {
    if (column && !columns.has(column)) {
      problems.push(`columns.${role}: column "${column}" does not exist`);
    }
  }
  const typeOf = (role: keyof SourceConfig["columns"]) => {
    const column = source.columns[role];
    return column ? columns.get(column) : undefined;
  };
  const idType = ID_TYPES[typeOf("id") ?? ""];
  if (typeOf("id") && !idType) {
    problems.push(
      `columns.id: type ${typeOf("id")} is not supported (use bigint, integer, text or uuid)`,
    );
  }
  expectType(problems, "des_shard", typeOf("des_shard"), INTEGER_TYPES, "an integer type");
  expectType(problems, "created_at", typeOf("created_at"), TIME_TYPES, "a timestamp or date");
  expectType(problems, "packed_at", typeOf("packed_at"), TIME_TYPES, "a timestamp or date");
  expectType(problems, "error", typeOf("error"), TEXT_TYPES, "a text type");
  if (problems.length === 0) {
    await checkColumnRules(db, source, table, columnInfo, problems, needs);
  }
  if (problems.length > 0) {
    throw new DesConfigError(
      `source "${source.name}", table ${table}: ${problems.join("; ")}` +
        ` (the table has: ${[...columns.keys()].join(", ")})`,
      { source: source.name, table, problems, existing: [...columns.keys()] },
    );
  }
  const errorColumn = source.columns.error ? columnInfo.get(source.columns.error) : undefined;
  return {
    idType: idType!,
    columns,
    columnInfo,
    ...(errorColumn?.maxLength ? { errorLength: errorColumn.maxLength } : {}),
  };
}

interface RawColumn {
  name: string;
  data_type: string;
  sql_type: string;
  max_length: number | null;
  precision: number | null;
  scale: number | null;
  attnum: number;
}

function toColumnInfo(r: RawColumn): ColumnInfo {
  return {
    name: r.name,
    dataType: r.data_type,
    sqlType: r.sql_type,
    maxLength: r.max_length,
    precision: r.precision,
    scale: r.scale,
    attnum: r.attnum,
  };
}

function expectType(
  problems: string[],
  role: string,
  actual: string | undefined,
  allowed: string[],
  what: string,
): void {
  if (actual !== undefined && !allowed.includes(actual)) {
    problems.push(`columns.${role}: type ${actual} is not ${what}`);
  }
}
