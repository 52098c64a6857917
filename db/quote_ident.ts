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
  return identifier.split(".").map((part) => {
    if (part === "" || part.includes("\0") || new TextEncoder().encode(part).length > 63) {
      throw new DesConfigError(
        `invalid SQL identifier ${
          JSON.stringify(identifier)
        }: each dot-separated part must be 1..63 bytes without NUL`,
        { identifier },
      );
    }
    return `"${part.replaceAll('"', '""')}"`;
  }).join(".");
}
