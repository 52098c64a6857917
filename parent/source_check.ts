/**
 * Check a configured source against the parent database before any write:
 * the table exists, every configured column exists, and the id column has a
 * type the marker can cast to.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import type { DbQuery } from "../db/db.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import type { SourceConfig } from "./sources.ts";

/** Id column types the parent contract supports. */
export type IdType = "bigint" | "integer" | "text" | "uuid";

/** What the database says about a source's table. */
export interface SourceSchema {
  /** SQL type of the id column, as used in casts. */
  idType: IdType;
  /** Every column of the table with its `information_schema` data type. */
  columns: Map<string, string>;
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

/** The table of `source` as SQL: `"schema"."table"` or `"table"`. */
export function qualifiedTable(source: Pick<SourceConfig, "schema" | "table">): string {
  return source.schema
    ? `${quoteIdent(source.schema)}.${quoteIdent(source.table)}`
    : quoteIdent(source.table);
}

/**
 * Check that `source`'s table and columns exist in `db` and detect the id
 * type. Throws {@linkcode DesConfigError} naming the table, the missing
 * columns and the columns that do exist.
 */
export async function checkSourceAgainstDb(
  db: DbQuery,
  source: SourceConfig,
): Promise<SourceSchema> {
  const table = qualifiedTable(source);
  const rows = await db.query<{ column_name: string; data_type: string }>(
    `SELECT c.column_name::text AS column_name, c.data_type::text AS data_type
       FROM information_schema.columns c
       JOIN pg_catalog.pg_class r ON r.relname = c.table_name
       JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace AND n.nspname = c.table_schema
      WHERE r.oid = to_regclass($1)
      ORDER BY c.ordinal_position`,
    [table],
  );
  if (rows.length === 0) {
    throw new DesConfigError(
      `source "${source.name}": table ${table} does not exist or has no visible columns`,
      { source: source.name, table },
    );
  }
  const columns = new Map(rows.map((r) => [r.column_name, r.data_type]));
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
  if (problems.length > 0) {
    throw new DesConfigError(
      `source "${source.name}", table ${table}: ${problems.join("; ")}` +
        ` (the table has: ${[...columns.keys()].join(", ")})`,
      { source: source.name, table, problems, existing: [...columns.keys()] },
    );
  }
  return { idType: idType!, columns };
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
