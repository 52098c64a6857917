/**
 * The DES v1 container format: write containers with {@linkcode DesWriter},
 * read them with {@linkcode DesReader} from any {@linkcode RangeSource}.
 * The byte layout is specified in `docs/format.md`.
 *
 * @example
 * ```ts
 * import { DesReader, DesWriter, FileRangeSource, FileSink } from "./mod.ts";
 * const writer = await DesWriter.create(await FileSink.create("/tmp/a.des"));
 * await writer.add("a.txt", new TextEncoder().encode("hello"));
 * await writer.finish();
 * const reader = await DesReader.open(await FileRangeSource.open("/tmp/a.des"));
 * console.log(new TextDecoder().decode(await reader.readFile("a.txt")));
 * ```
 *
 * @module
 */

export * from "./constants.ts";
export { decodeHeader, encodeHeader, type Header } from "./header.ts";
export { decodeFooter, encodeFooter, type Footer, type FooterFields } from "./footer.ts";
export {
  decodeIndex,
  encodeIndex,
  type IndexBounds,
  type IndexEntry,
  type IndexRecord,
  IndexView,
} from "./index.ts";
export {
  type ContainerDescriptor,
  decodeDescriptor,
  decodeFileMeta,
  encodeDescriptor,
  encodeFileMeta,
  type FileMeta,
} from "./meta.ts";
export { decodeName, encodeName, nameProblem } from "./names.ts";
export { bigFileKey, nameSegment } from "./big_file_key.ts";
export { Crc32c, crc32c, Sha256, sha256 } from "./checksum.ts";
export type { RangeSource, SuffixRead } from "./range_source.ts";
export type { BigFileBody, BigFileRange, BigFileStore } from "./big_file_store.ts";
export type { ContainerSink } from "./sink.ts";
export { FileSink, type FileSinkResult } from "./file_sink.ts";
export {
  type AddMeta,
  type BodyChecksums,
  type ContainerSummary,
  DesWriter,
  type DesWriterOptions,
  type RunChecksums,
  type RunFile,
} from "./writer.ts";
export { DesReader, type DesReaderOptions, type FileRange } from "./reader.ts";
export {
  type BadFile,
  VERIFY_CHUNK_BYTES,
  type VerifyProgress,
  type VerifyReport,
} from "./verify.ts";
export {
  CountingRangeSource,
  FileRangeSource,
  HttpRangeSource,
  type HttpRangeSourceOptions,
  MemoryRangeSource,
  type SourceCall,
} from "./sources.ts";
