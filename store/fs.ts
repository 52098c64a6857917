/**
 * {@linkcode FsObjectStore}: an {@linkcode ObjectStore} over a local
 * directory, the embedded default. Keys map to files under the root; writes
 * go to a temp file in the same directory and become visible atomically by
 * rename; ranged reads seek and stream.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DesConflictError, DesNotFoundError } from "../core/errors.ts";
import { fileInfo, fileRangeStream, fsError } from "./fs_files.ts";
import { FsObjectWriter } from "./fs_writer.ts";
import { compareKeys, TEMP_PREFIX, validateKey } from "./keys.ts";
import type {
  GetOptions,
  GetResult,
  IncompleteUpload,
  ListedObject,
  ObjectInfo,
  ObjectStore,
  ObjectWriter,
  PutOptions,
  RequestHook,
  StoreRequest,
} from "./object_store.ts";
import { isSuffixRange, resolveRange } from "./range.ts";
import { ReadHandles } from "./fs_read_handles.ts";

/** Ranges up to this size are read through a cached open handle (see `fs_read_handles.ts`). */
export const HANDLE_READ_LIMIT = 256 * 1024;

/** Options of {@linkcode FsObjectStore}. */
export interface FsObjectStoreOptions {
  /** Called once per operation, like the requests of a remote store. */
  onRequest?: RequestHook;
}

/**
 * Objects as files under `root`. A key that would need a file where a
 * directory exists (or the reverse) is rejected with `DesConflictError`.
 */
export class FsObjectStore implements ObjectStore {
  /** Absolute root directory. */
  readonly root: string;
  /** `file://` URL of the root. */
  readonly url: string;
  readonly #onRequest?: RequestHook;
  readonly #handles = new ReadHandles();

  /** @param root directory holding the objects (created on first write) @param options hook */
  constructor(root: string, options: FsObjectStoreOptions = {}) {
    this.root = resolve(root);
    this.url = pathToFileURL(this.root).href;
    this.#onRequest = options.onRequest;
  }

  /** Create the root directory when it is missing. */
  async ensureBucket(): Promise<void> {
    try {
      await Deno.mkdir(this.root, { recursive: true });
    } catch (error) {
      throw fsError(error, "mkdir", this.root);
    }
  }

  /** The file that holds `key`. Throws `DesInputError` for an invalid key. */
  pathOf(key: string): string {
    return join(this.root, ...validateKey(key).split("/"));
  }

  /** Metadata of an object, or `null` (also when the key names a directory). */
  async head(key: string): Promise<ObjectInfo | null> {
    const path = this.pathOf(key);
    this.#report({ op: "head", key });
    try {
      const stat = await Deno.stat(path);
      return stat.isFile ? fileInfo(key, stat) : null;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return null;
      }
      throw fsError(error, "stat", path);
    }
  }

  /**
   * An object or a range of it, streamed from the file. A bounded range (up
   * to {@linkcode HANDLE_READ_LIMIT}) is read through a cached open handle.
   */
  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const path = this.pathOf(key);
    options.signal?.throwIfAborted();
    this.#report({ op: "get", key, ranged: options.range !== undefined });
    const range = options.range;
    if (
      range && !isSuffixRange(range) && range.length !== undefined &&
      range.length <= HANDLE_READ_LIMIT
    ) {
      try {
        const read = await this.#handles.read(path, key, (info) => {
          checkIfMatch(key, options.ifMatch, info);
          const { start, end } = resolveRange(range, info.size, key);
          return { start, length: end - start };
        });
        const { bytes } = read;
        return { info: read.info, start: read.start, length: bytes.length, body: oneChunk(bytes) };
      } catch (error) {
        throw fsError(error, "read", path);
      }
    }
    const file = await openForRead(path, key);
    try {
      const stat = await file.stat();
      if (!stat.isFile) throw new DesNotFoundError(`no object ${key}`, { key, path });
      const info = fileInfo(key, stat);
      checkIfMatch(key, options.ifMatch, info);
      const { start, end } = resolveRange(options.range, info.size, key);
      if (start > 0) await file.seek(start, Deno.SeekMode.Start);
      return { info, start, length: end - start, body: fileRangeStream(file, end - start, path) };
    } catch (error) {
      file.close();
      throw fsError(error, "read", path);
    }
  }

  /** Store a whole object atomically (temp file + rename). */
  async put(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<ObjectInfo> {
    const writer = await FsObjectWriter.open(key, this.pathOf(key), options, this.#onRequest);
    try {
      if (body instanceof Uint8Array) {
        await writer.write(body);
      } else {
        for await (const chunk of body) await writer.write(chunk);
      }
      return await writer.close();
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /** A writer to a temp file that becomes the object on `close()`. */
  createWriter(key: string, options: PutOptions = {}): Promise<ObjectWriter> {
    return Promise.try(() => FsObjectWriter.open(key, this.pathOf(key), options, this.#onRequest));
  }

  /** Objects whose key starts with `prefix`, in key order (temp files are skipped). */
  async *list(prefix: string): AsyncIterable<ListedObject> {
    const cut = prefix.lastIndexOf("/");
    const dirKey = cut < 0 ? "" : prefix.slice(0, cut);
    const dir = dirKey === "" ? this.root : this.pathOf(dirKey);
    this.#report({ op: "list", key: prefix });
    const keys: string[] = [];
    await collectKeys(dir, dirKey === "" ? "" : `${dirKey}/`, prefix, keys);
    keys.sort(compareKeys);
    for (const key of keys) {
      const stat = await Deno.stat(join(this.root, key)).catch(() => null);
      if (stat?.isFile) yield fileInfo(key, stat);
    }
  }

  /** Writes become visible by rename or not at all: there are no incomplete uploads. */
  async *listIncompleteUploads(_prefix: string): AsyncIterable<IncompleteUpload> {}

  /** Nothing to abort (see {@linkcode listIncompleteUploads}). */
  abortIncompleteUpload(_upload: IncompleteUpload): Promise<void> {
    return Promise.resolve();
  }

  /** Delete an object; a missing key (or a directory) is not an error. */
  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    this.#report({ op: "delete", key });
    try {
      const stat = await Deno.lstat(path);
      if (!stat.isDirectory) await Deno.remove(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return;
      }
      throw fsError(error, "delete", path);
    }
  }

  /** Close the cached read handles (after the reads under way). */
  close(): Promise<void> {
    return this.#handles.close();
  }

  #report(request: StoreRequest): void {
    this.#onRequest?.(request);
  }
}

/** `DesConflictError` unless the object still has the ETag asked for. */
function checkIfMatch(key: string, ifMatch: string | undefined, info: ObjectInfo): void {
  if (ifMatch !== undefined && ifMatch !== info.etag) {
    throw new DesConflictError(`object ${key} changed`, {
      key,
      expected: ifMatch,
      actual: info.etag,
    });
  }
}

/** A stream of one chunk. */
function oneChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

async function openForRead(path: string, key: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      throw new DesNotFoundError(`no object ${key}`, { key, path });
    }
    throw fsError(error, "open", path);
  }
}

async function collectKeys(dir: string, keyPrefix: string, prefix: string, out: string[]) {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return;
    throw fsError(error, "list", dir);
  }
  for (const entry of entries) {
    if (entry.name.startsWith(TEMP_PREFIX)) continue;
    const key = keyPrefix + entry.name;
    if (entry.isDirectory) {
      const sub = `${key}/`;
      if (sub.startsWith(prefix) || prefix.startsWith(sub)) {
        await collectKeys(join(dir, entry.name), sub, prefix, out);
      }
    } else if (entry.isFile && key.startsWith(prefix)) {
      out.push(key);
    }
  }
}
