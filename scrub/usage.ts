/**
 * Usage text of the scrub command, importable without loading the scrubber.
 *
 * @module
 */

/** Usage of `des scrub` / `deno task scrub`. */
export const SCRUB_USAGE = "scrub [--rate 50MiB/s] [--range A-B] [--once | --interval 1h] " +
  "[--no-repair] [--sources configs/sources.yaml] [--port 9473] [--host 0.0.0.0] " +
  "| scrub --report [--json] [--database-url URL]";
