/**
 * Usage text of the mark command, importable without loading the marker.
 *
 * @module
 */

/** Usage text of the mark command. */
export const MARK_USAGE = "mark [--once | --interval 60s] [--sources configs/sources.yaml] " +
  "[--concurrency 3] [--port 9471] [--host 0.0.0.0]";

/** Usage text of the reap command. */
export const REAP_USAGE = "reap [--once | --interval 60s] [--sources configs/sources.yaml] " +
  "[--port 9473] [--host 0.0.0.0]";
