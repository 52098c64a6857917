/**
 * Usage texts of the pack and recover commands, importable without loading the packer.
 *
 * @module
 */

/** Usage of `des pack`. */
export const PACK_USAGE = "pack [--range A-B] [--once] [--sources configs/sources.yaml] " +
  "[--port 9472] [--host 0.0.0.0] [--interval 30s] [--max-container-bytes 256MiB] " +
  "[--max-container-files 50000] [--fetch-concurrency 16] [--shard-concurrency 4] " +
  "[--containers-in-flight 2] [--lease 30s] [--stream-upload] [--compact]";

/** Usage of `des recover`. */
export const RECOVER_USAGE = "recover [--range A-B] [--sources configs/sources.yaml] [--lease 30s]";

/** Usage of `deno task compact` (`des compact`). */
export const COMPACT_USAGE = "compact [--range A-B] [--once] [--sources configs/sources.yaml] " +
  "[--port 9475] [--host 0.0.0.0] [--interval 60s] [--lease 30s]";
