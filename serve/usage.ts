/**
 * Usage text of the serve command, importable without loading the services.
 *
 * @module
 */

/** Usage text. */
export const SERVE_USAGE = "serve [--port 8080] [--host 127.0.0.1] " +
  "[--sources configs/sources.yaml] [--mark-interval 60s] [--pack-interval 60s]";
