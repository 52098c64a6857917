/**
 * The storage seam: a small interface over S3-compatible object storage,
 * a local filesystem directory, or memory. Every implementation reports each
 * request it makes to an optional {@linkcode RequestHook}, so callers can
 * count Range GETs per read.
 *
 * @module
 */

/** A byte range of an object: from `offset`, `length` bytes (to the end when omitted). */
export interface OffsetRange {
  /** First byte, zero-based. */
  offset: number;
  /** Number of bytes; omitted = to the end of the object. */
  length?: number;
}

/** The last `suffix` bytes of an object (HTTP `bytes=-N`). */
export interface SuffixRange {
  /** How many bytes from the end. */
  suffix: number;
}

/** A range request: explicit offset/length or a suffix. */
export type RangeRequest = OffsetRange | SuffixRange;

/** What a store knows about an object without reading it. */
export interface ObjectInfo {
  /** Object key, relative to the store root / bucket. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Opaque version tag (S3 ETag with quotes stripped; fs: size+mtime based). */
  etag: string;
  /** Last modification time. */
  lastModified: Date;
}

/** The result of a (ranged) get. */
export interface GetResult {
  /** The object, as it is now. */
  info: ObjectInfo;
  /** First byte actually returned. */
  start: number;
  /** Number of bytes in `body`. */
  length: number;
  /** The bytes, streamed. Must be consumed or cancelled, unless `bytes` is set and used. */
  body: ReadableStream<Uint8Array>;
  /**
   * The bytes, when the store read a small body whole before answering:
   * then `body` yields exactly these, and need not be touched at all.
   */
  bytes?: Uint8Array;
}

/** Options of {@linkcode ObjectStore.get}. */
export interface GetOptions {
  /** Only these bytes. */
  range?: RangeRequest;
  /** Fail with `DesConflictError` unless the object still has this ETag. */
  ifMatch?: string;
  /** Abort the request. */
  signal?: AbortSignal;
}

/** Options of {@linkcode ObjectStore.put}. */
export interface PutOptions {
  /** Stored as the object's content type. */
  contentType?: string;
  /** Size of a streamed body when known (lets S3 use a single PUT). */
  contentLength?: number;
  /** Fail with `DesConflictError` if the key already exists. */
  ifNoneMatch?: boolean;
}

/** An upload that was started and neither completed nor aborted (S3 multipart). */
export interface IncompleteUpload {
  /** Object key. */
  key: string;
  /** Upload id. */
  uploadId: string;
  /** When it was started. */
  initiated: Date;
}

/** One listed object. */
export type ListedObject = ObjectInfo;

/** A request an implementation made, reported to the hook. */
export interface StoreRequest {
  /** Kind of request. */
  op:
    | "get"
    | "head"
    | "put"
    | "list"
    | "delete"
    | "multipart-create"
    | "multipart-part"
    | "multipart-complete"
    | "multipart-abort";
  /** Key (or prefix for list). */
  key: string;
  /** Whether a get carried a Range. */
  ranged?: boolean;
  /** Bytes moved, when known. */
  bytes?: number;
}

/** Called once for every request a store makes. */
export type RequestHook = (request: StoreRequest) => void;

/** A streaming writer for large objects (S3 multipart upload, fs temp file + rename). */
export interface ObjectWriter {
  /** Append bytes. Resolves when the chunk has been accepted (back-pressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** True when a chunk is no longer referred to once its `write` has resolved. */
  readonly releasesChunks?: boolean;
  /** Finish the object and make it visible; returns its info (HEADed, real ETag). */
  close(): Promise<ObjectInfo>;
  /** Abandon the object; nothing becomes visible. Safe to call twice. */
  abort(): Promise<void>;
}

/**
 * An object store. Keys are `/`-separated relative paths without a leading `/`.
 *
 * @example
 * ```ts
 * import { FsObjectStore } from "./fs.ts";
 * const store = new FsObjectStore("/tmp/archive");
 * await store.put("a/b.txt", new TextEncoder().encode("hi"));
 * const { body } = await store.get("a/b.txt", { range: { offset: 0, length: 1 } });
 * ```
 */
export interface ObjectStore {
  /** A human-readable location, e.g. `s3://bucket` or `file:///tmp/x`. */
  readonly url: string;
  /**
   * Make sure the bucket (S3) or root directory (filesystem) exists, creating
   * it when missing; idempotent. Throws `DesConfigError` naming the bucket
   * when it is missing and the credentials may not create it. Wrappers
   * delegate to the store they wrap.
   */
  ensureBucket(): Promise<void>;
  /** Metadata of an object, or `null` when it does not exist. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Read an object or a range of it. Throws `DesNotFoundError` when missing. */
  get(key: string, options?: GetOptions): Promise<GetResult>;
  /** Store a whole object. Large streamed bodies go multipart where the backend has it. */
  put(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    options?: PutOptions,
  ): Promise<ObjectInfo>;
  /** A streaming writer for an object of unknown size. */
  createWriter(key: string, options?: PutOptions): Promise<ObjectWriter>;
  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** Delete an object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Uploads under `prefix` that were started and neither completed nor
   * aborted. Until aborted, such an upload can still complete and make its
   * object appear, also after the key was deleted. Stores without multipart
   * uploads list none.
   */
  listIncompleteUploads(prefix: string): AsyncIterable<IncompleteUpload>;
  /** Abort one such upload; one already gone is not an error. */
  abortIncompleteUpload(upload: IncompleteUpload): Promise<void>;
}

/** Read a whole body stream into one buffer. */
export async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    total += chunk.byteLength;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** All bytes of a GET's answer: `result.bytes` when the store read them already, else the body's. */
export function bodyBytes(result: GetResult): Uint8Array | Promise<Uint8Array> {
  return result.bytes ?? readAll(result.body);
}

/** Counts requests by kind; pass `counter.hook` to a store. */
export class RequestCounter {
  /** Requests seen, in order. */
  readonly requests: StoreRequest[] = [];
  /** The hook to hand to a store. */
  readonly hook: RequestHook = (request) => {
    this.requests.push(request);
  };
  /** Number of requests of one kind (all kinds when omitted). */
  count(op?: StoreRequest["op"]): number {
    return op ? this.requests.filter((r) => r.op === op).length : this.requests.length;
  }
  /** Forget everything counted so far. */
  reset(): void {
    this.requests.length = 0;
  }
}
