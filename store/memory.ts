/**
 * An in-memory {@linkcode ObjectStore} with the same semantics as the S3 and
 * filesystem stores (key rules, ranges, If-Match, If-None-Match, key order),
 * for unit tests of code that needs a store.
 *
 * @module
 */

import { DesConflictError, DesInputError, DesNotFoundError } from "../core/errors.ts";
import { compareKeys, validateKey } from "./keys.ts";
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
import { readAll } from "./object_store.ts";
import { resolveRange } from "./range.ts";

/** Options of {@linkcode MemoryObjectStore}. */
export interface MemoryObjectStoreOptions {
  /** Called once per operation, like the requests of a remote store. */
  onRequest?: RequestHook;
  /** Shown in `url` (`memory://NAME`). */
  name?: string;
}

interface StoredObject {
  bytes: Uint8Array;
  info: ObjectInfo;
}

let generation = 0;

/** Objects kept in a `Map`; every write stores a private copy and gets a fresh ETag. */
export class MemoryObjectStore implements ObjectStore {
  /** `memory://NAME`. */
  readonly url: string;
  readonly #objects = new Map<string, StoredObject>();
  readonly #onRequest?: RequestHook;

  /** @param options request hook and name */
  constructor(options: MemoryObjectStoreOptions = {}) {
    this.url = `memory://${options.name ?? "store"}`;
    this.#onRequest = options.onRequest;
  }

  /** Nothing to create: the map exists with the store. */
  ensureBucket(): Promise<void> {
    return Promise.resolve();
  }

  /** Metadata of an object, or `null`. */
  head(key: string): Promise<ObjectInfo | null> {
    return Promise.try(() => {
      validateKey(key);
      this.#report({ op: "head", key });
      const found = this.#objects.get(key);
      return found ? { ...found.info } : null;
    });
  }

  /** An object or a range of it, as a stream of a copy of the bytes. */
  get(key: string, options: GetOptions = {}): Promise<GetResult> {
    return Promise.try(() => {
      validateKey(key);
      options.signal?.throwIfAborted();
      this.#report({ op: "get", key, ranged: options.range !== undefined });
      const found = this.#objects.get(key);
      if (!found) throw new DesNotFoundError(`no object ${key}`, { key });
      const { start, end } = resolveChecked(found, key, options);
      const bytes = found.bytes.slice(start, end);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          if (bytes.byteLength > 0) controller.enqueue(bytes);
          controller.close();
        },
      });
      return { info: { ...found.info }, start, length: end - start, body };
    });
  }

  /** Store a whole object (a stream is read to its end first). */
  async put(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    options: PutOptions = {},
  ): Promise<ObjectInfo> {
    validateKey(key);
    const bytes = body instanceof Uint8Array ? body.slice() : await readAll(body);
    return this.#store(key, bytes, options);
  }

  /** A writer that collects chunks and stores them on `close()`. */
  createWriter(key: string, options: PutOptions = {}): Promise<ObjectWriter> {
    return Promise.try(() => this.#writer(validateKey(key), options));
  }

  #writer(key: string, options: PutOptions): ObjectWriter {
    const chunks: Uint8Array[] = [];
    let state: "open" | "closed" | "aborted" = "open";
    const ensureOpen = () => {
      if (state !== "open") throw new DesInputError(`writer for ${key} is ${state}`, { key });
    };
    const writer: ObjectWriter = {
      write: (chunk) =>
        Promise.try(() => {
          ensureOpen();
          chunks.push(chunk.slice());
        }),
      close: async () => {
        ensureOpen();
        state = "closed";
        return this.#store(key, await readAll(ReadableStream.from(chunks)), options);
      },
      abort: () => {
        if (state === "open") state = "aborted";
        chunks.length = 0;
        return Promise.resolve();
      },
    };
    return writer;
  }

  /** Objects whose key starts with `prefix`, in key order. */
  async *list(prefix: string): AsyncIterable<ListedObject> {
    this.#report({ op: "list", key: prefix });
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    for (const key of keys) {
      const found = this.#objects.get(key);
      if (found) yield { ...found.info };
    }
  }

  /** Writes become visible by rename or not at all: there are no incomplete uploads. */
  async *listIncompleteUploads(_prefix: string): AsyncIterable<IncompleteUpload> {}

  /** Nothing to abort (see {@linkcode listIncompleteUploads}). */
  abortIncompleteUpload(_upload: IncompleteUpload): Promise<void> {
    return Promise.resolve();
  }

  /** Delete an object; a missing key is not an error. */
  delete(key: string): Promise<void> {
    return Promise.try(() => {
      validateKey(key);
      this.#report({ op: "delete", key });
      this.#objects.delete(key);
    });
  }

  #store(key: string, bytes: Uint8Array, options: PutOptions): ObjectInfo {
    this.#report({ op: "put", key, bytes: bytes.byteLength });
    if (options.ifNoneMatch && this.#objects.has(key)) {
      throw new DesConflictError(`object ${key} already exists`, { key });
    }
    const etag = `${(++generation).toString(16).padStart(8, "0")}-${bytes.byteLength.toString(16)}`;
    const info = { key, size: bytes.byteLength, etag, lastModified: new Date() };
    this.#objects.set(key, { bytes, info });
    return { ...info };
  }

  #report(request: StoreRequest): void {
    this.#onRequest?.(request);
  }
}

function resolveChecked(found: StoredObject, key: string, options: GetOptions) {
  if (options.ifMatch !== undefined && options.ifMatch !== found.info.etag) {
    throw new DesConflictError(`object ${key} changed`, {
      key,
      expected: options.ifMatch,
      actual: found.info.etag,
    });
  }
  return resolveRange(options.range, found.info.size, key);
}
