/**
 * DES (Datavision Easy Store): an archive for millions of small files.
 *
 * The library writes and reads DES v1 containers from TypeScript, over any
 * byte-range source (memory, local file, HTTP, S3-compatible storage), and
 * exposes the storage seam, configuration and typed errors the DES services
 * are built on.
 *
 * @example Write a container and read a file back
 * ```ts
 * import { DesReader, DesWriter, FileRangeSource, FileSink } from "./mod.ts";
 *
 * const writer = await DesWriter.create(await FileSink.create("/tmp/example.des"));
 * await writer.add("hello.txt", new TextEncoder().encode("hello"), { contentType: "text/plain" });
 * await writer.finish();
 *
 * const reader = await DesReader.open(await FileRangeSource.open("/tmp/example.des"));
 * console.log(new TextDecoder().decode(await reader.readFile("hello.txt")));
 * ```
 *
 * @module
 */

export * from "./core/errors.ts";
export { type DesConfig, loadConfig, SETTINGS } from "./core/config.ts";
export * from "./format/mod.ts";
export * from "./store/mod.ts";
export * from "./naming/mod.ts";
