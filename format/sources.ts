/**
 * {@linkcode RangeSource} implementations that need no object store: bytes
 * in memory, a local file, an HTTP URL with Range requests, and a counting
 * wrapper that records every call. Each method call is one request.
 *
 * @module
 */

export type { RangeSource, SuffixRead } from "./range_source.ts";
export { STREAM_CHUNK_BYTES } from "./source_checks.ts";
export { MemoryRangeSource } from "./memory_source.ts";
export { FileRangeSource } from "./file_source.ts";
export { HttpRangeSource, type HttpRangeSourceOptions } from "./http_source.ts";
export { CountingRangeSource, type SourceCall } from "./counting_source.ts";
