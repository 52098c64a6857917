/**
 * Usage text of `des erasure-report`, importable without loading the command.
 *
 * @module
 */

/** Usage of `des erasure-report`. */
export const ERASURE_REPORT_USAGE = "erasure-report <name> [--json] [--database-url URL]";
