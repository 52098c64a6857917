/**
 * Usage text of the mark command, importable without loading the marker.
 *
 * @module
 */

/** Usage text of the mark command. */
export const MARK_USAGE = "mark [--once | --interval 60s] [--sources configs/sources.yaml] " +
  "[--concurrency 2] [--port 9471] [--host 0.0.0.0]";
