/**
 * Quoting of configured SQL identifiers (table, column, schema names).
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";

/**
 * Quote one identifier for PostgreSQL: wrap in double quotes and double any
 * embedded quote. A dotted `schema.table` is quoted part by part. Throws
 * `DesConfigError` on an empty part, a NUL, or more than 63 bytes per part.
 */
export function quoteIdent(identifier: string): string {
  if (typeof identifier !== "string" || identifier === "") {
    throw new DesConfigError("an SQL identifier must be a non-empty string", { identifier });
  }
  return identifier.split(".").map((part) => quoteIdentPart(part, identifier)).join(".");
}

/**
 * Quote exactly one identifier, taken literally: spaces, dots, quotes and
 * mixed case are all part of the name (`Dokumente Alt` → `"Dokumente Alt"`).
 * Throws `DesConfigError` when it is empty, holds a NUL or exceeds 63 bytes.
 *
 * @param part the identifier
 * @param whole what to name in the error (default: `part`)
 */
export function quoteIdentPart(part: string, whole: string = part): string {
  if (
    typeof part !== "string" || part === "" || part.includes("\0") ||
    new TextEncoder().encode(part).length > 63
  ) {
    throw new DesConfigError(
      `invalid SQL identifier ${JSON.stringify(whole)}: each name must be 1..63 bytes without NUL`,
      { identifier: whole },
    );
  }
  return `"${part.replaceAll('"', '""')}"`;
}
