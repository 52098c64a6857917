/**
 * The usage line of `des rebuild-catalog`, apart from the command so that
 * `des help` does not load the database and S3 clients to print it.
 *
 * @module
 */

/** Usage of `des rebuild-catalog` without the leading `des `. */
export const REBUILD_CATALOG_USAGE =
  "rebuild-catalog [--dry-run] [--prefix p] [--bucket b] [--concurrency 8] [--json]";
