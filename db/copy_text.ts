/**
 * Rows as the text format of `COPY … FROM`: one line per row, columns
 * separated by tabs, `\N` for null, and a backslash, tab, newline or
 * carriage return inside a value escaped. The embedded engine loads such
 * text far more cheaply than it binds array parameters
 * ({@linkcode DbCopyRows}).
 *
 * @module
 */

import type { DbQuery } from "./db.ts";

/** A database that loads rows from COPY text (the embedded engine). */
export interface DbCopyRows {
  /**
   * `COPY table (columns) FROM` the rows in `text` (see
   * {@linkcode copyTextValue}), in one statement: all rows or none.
   */
  copyRows(table: string, columns: readonly string[], text: string): Promise<void>;
}

/** Whether `db` can load COPY text. */
export function canCopyRows(db: DbQuery): db is DbQuery & DbCopyRows {
  return typeof (db as Partial<DbCopyRows>).copyRows === "function";
}

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/**
 * One value as a COPY text column: `\N` for null, the text with its
 * backslashes, tabs and line breaks escaped otherwise.
 *
 * @example
 * ```ts
 * copyTextValue("a\tb"); // "a\\tb"
 * copyTextValue(null); // "\\N"
 * ```
 */
export function copyTextValue(value: string | null | undefined): string {
  if (value === null || value === undefined) return "\\N";
  return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPES[c]) : value;
}
