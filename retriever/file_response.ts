/**
 * The HTTP response for one archived file, as a careful static file server
 * gives it: validators (strong ETag = SHA-256, Last-Modified = mtime),
 * conditional requests, a single byte range, HEAD from the index alone, and
 * the metadata document of `GET /files/{name}/meta`.
 *
 * @module
 */

import { DEFAULT_CONTENT_TYPE } from "../core/content_type.ts";
import { DesError } from "../core/errors.ts";
import { noteBodyLength } from "../core/body_length.ts";
import {
  formatEntityTag,
  formatHttpDate,
  type HeaderSource,
  planResponse,
  type Representation,
} from "../core/http_range.ts";
import { toHex, u32Hex } from "../format/binary.ts";
import type { IndexEntry } from "../format/index.ts";
import type { FileMeta } from "../format/meta.ts";
import type { ByteCache } from "./byte_cache.ts";
import type { OpenContainer } from "./container_readers.ts";
import { readAll } from "../store/object_store.ts";
import { observeBody } from "./observe_body.ts";
import { problemResponse } from "../core/problem.ts";

/** Bodies up to this size are read whole before responding; larger ones are streamed. */
export const BUFFERED_BODY_LIMIT = 64 * 1024;

/** `Cache-Control` of file bytes: a name's content never changes. */
export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";

/** A located file. */
export interface FoundFile {
  /** Its open container. */
  open: OpenContainer;
  /** Its index entry. */
  entry: IndexEntry;
  /** Its meta record. */
  meta: FileMeta;
}

/** A file response and the store requests it made. */
export interface FileResponse {
  /** The response (body not yet read). */
  response: Response;
  /** Range GETs made for the body (0 or 1). */
  dataRequests: number;
}

const representations = new WeakMap<IndexEntry, Representation>();

/** Validators and size of a file (computed once per index entry object). */
export function representationOf(found: FoundFile): Representation {
  let rep = representations.get(found.entry);
  if (!rep) {
    rep = {
      etag: { weak: false, opaque: toHex(found.entry.sha256) },
      lastModified: found.meta.mtime ?? found.open.reader.descriptor.createdAt,
      size: found.entry.size,
    };
    representations.set(found.entry, rep);
  }
  return rep;
}

/**
 * How a caller in the same process wants every response dressed (the
 * gateway's edge headers), so that headers are built once instead of built
 * and then copied. `decorate` must be idempotent.
 */
export interface ResponseStyle {
  /** Add or rewrite the caller's headers. */
  decorate(headers: Headers): void;
}

/**
 * What a GET or HEAD of a file comes to before any byte is read: either the
 * whole answer (`done`: HEAD, 304, 412, 416) or the status, byte range and
 * headers of a 200/206 whose body is still to be read.
 */
export type FilePlan =
  | { done: Response }
  | {
    done?: undefined;
    status: 200 | 206;
    range: { offset: number; length: number };
    /** Shared by every whole-file answer of this entry: copy, never modify. */
    headers: Headers;
  };

const UNSTYLED: ResponseStyle = { decorate: () => {} };

/**
 * What the answers to a file are planned from: its name, validators,
 * content type and size. A retriever takes it from the index entry; a
 * gateway that kept a retriever's answer takes it from that answer's headers.
 */
export interface FileRepresentation {
  /** The file's name (in problem details). */
  name: string;
  /** Validators and size. */
  rep: Representation;
  /** Header texts of the validators: `etag`, `last-modified`, `cache-control`. */
  validators: Readonly<Record<string, string>>;
  /** `Content-Type`. */
  contentType: string;
}

/** Headers of a whole-file 200, per style and index entry (a hot file reuses its entry). */
const wholeFileHeaders = new WeakMap<ResponseStyle, WeakMap<IndexEntry, Headers>>();

/** The representation of a file (computed once per index entry object). */
const fileRepresentations = new WeakMap<IndexEntry, FileRepresentation>();

/**
 * Plan the answer to a GET or HEAD of `found` (synchronous: no store
 * access). With a `style`, every header set it returns is dressed.
 */
export function planFile(
  method: "GET" | "HEAD",
  requestHeaders: HeaderSource,
  found: FoundFile,
  instance: string,
  style: ResponseStyle = UNSTYLED,
): FilePlan {
  let file = fileRepresentations.get(found.entry);
  if (!file) {
    const rep = representationOf(found);
    file = {
      name: found.entry.name,
      rep,
      validators: validatorsOf(found.entry, rep),
      contentType: found.meta.contentType ?? DEFAULT_CONTENT_TYPE,
    };
    fileRepresentations.set(found.entry, file);
  }
  return planRepresentation(method, requestHeaders, file, instance, style, (dress) => {
    let byEntry = wholeFileHeaders.get(style);
    if (!byEntry) wholeFileHeaders.set(style, byEntry = new WeakMap());
    let headers = byEntry.get(found.entry);
    if (!headers) byEntry.set(found.entry, headers = dress());
    return headers;
  });
}

/**
 * Plan the answer to a GET or HEAD of `file`, as {@linkcode planFile} does.
 * `wholeFile` returns the (shared) headers of a whole-file 200, given the
 * function that builds them.
 */
export function planRepresentation(
  method: "GET" | "HEAD",
  requestHeaders: HeaderSource,
  file: FileRepresentation,
  instance: string,
  style: ResponseStyle = UNSTYLED,
  wholeFile: (build: () => Headers) => Headers = (build) => build(),
): FilePlan {
  const { rep, validators } = file;
  const plan = planResponse(method, requestHeaders, rep);
  const dressed = (headers: HeadersInit) => {
    const h = new Headers(headers);
    style.decorate(h);
    return h;
  };
  if (plan.status === 304) {
    return { done: new Response(null, { status: 304, headers: dressed(validators) }) };
  }
  if (plan.status === 412) {
    const error = new DesError(`precondition ${plan.failed} failed`, {
      code: "precondition-failed",
      status: 412,
      context: { name: file.name, header: plan.failed },
    });
    return { done: styled(problemResponse(error, instance), style) };
  }
  if (plan.status === 416) {
    const error = new DesError(`range not satisfiable for a file of ${rep.size} bytes`, {
      code: "range-not-satisfiable",
      status: 416,
      context: { name: file.name, size: rep.size },
    });
    const headers = { "content-range": `bytes */${rep.size}`, "accept-ranges": "bytes" };
    return { done: styled(problemResponse(error, instance, headers), style) };
  }
  let headers: Headers;
  let range: { offset: number; length: number };
  if (plan.status === 206) {
    range = { offset: plan.range.start, length: plan.range.end - plan.range.start + 1 };
    headers = dressed({
      ...fileHeaders(file, range.length),
      "content-range": `bytes ${plan.range.start}-${plan.range.end}/${rep.size}`,
    });
  } else {
    range = { offset: 0, length: rep.size };
    headers = wholeFile(() => dressed(fileHeaders(file, rep.size)));
  }
  if (method === "HEAD") return { done: new Response(null, { status: plan.status, headers }) };
  return { status: plan.status, range, headers };
}

/** The headers of a 200/206 of `file` carrying `length` bytes (before any style). */
export function fileHeaders(file: FileRepresentation, length: number): Record<string, string> {
  return {
    ...file.validators,
    "accept-ranges": "bytes",
    "content-type": file.contentType,
    "content-length": String(length),
  };
}

/** `response` with its headers dressed by `style`. */
export function styled(response: Response, style?: ResponseStyle): Response {
  style?.decorate(response.headers);
  return response;
}

/**
 * The answer of a planned 200/206 when the byte cache's memory tier holds
 * the file: no store access, no promise. Undefined otherwise.
 */
export function cachedFileResponse(
  plan: FilePlan,
  found: FoundFile,
  cache?: ByteCache,
): Response | undefined {
  if (plan.done) return plan.done;
  const bytes = cache?.memoryHit(found.open, found.entry, plan.range);
  if (!bytes) return undefined;
  const response = new Response(bytes as Uint8Array<ArrayBuffer>, {
    status: plan.status,
    headers: plan.headers,
  });
  return noteBodyLength(response, plan.range.length);
}

/**
 * Answer a GET or HEAD of `found`. HEAD and 304/412/416 never touch the
 * store; 200/206 make exactly one range request, or none when `cache` holds
 * the file. A `DesConflictError` from that request (the object changed)
 * propagates before any response exists, and so does a checksum error of a
 * body up to {@linkcode BUFFERED_BODY_LIMIT}.
 */
export async function fileResponse(
  method: "GET" | "HEAD",
  requestHeaders: HeaderSource,
  found: FoundFile,
  instance: string,
  onStreamError: (error: unknown) => void = () => {},
  cache?: ByteCache,
  style?: ResponseStyle,
): Promise<FileResponse> {
  const plan = planFile(method, requestHeaders, found, instance, style);
  if (plan.done) return { response: plan.done, dataRequests: 0 };
  const { status, range, headers } = plan;
  const cached = await cache?.read(found.open, found.entry, range);
  if (cached) {
    const body = cached.bytes as Uint8Array<ArrayBuffer>;
    return {
      response: new Response(body, { status, headers }),
      dataRequests: cached.dataRequests,
    };
  }
  return {
    response: new Response(await responseBody(found, status === 206, range, onStreamError), {
      status,
      headers,
    }),
    dataRequests: range.length > 0 ? 1 : 0,
  };
}

/**
 * The bytes of a 200/206: one range request either way. Small bodies are
 * read (and checked) before the headers go out — a whole small file against
 * its CRC-32C and SHA-256 — so a bad checksum is a clean 502 rather than a
 * cut body, and the server sends bytes instead of pumping a stream. Larger
 * bodies stream, a whole file checked against its CRC-32C at the end;
 * `onStreamError` hears of a failure after the headers went out.
 */
async function responseBody(
  found: FoundFile,
  partial: boolean,
  range: { offset: number; length: number },
  onStreamError: (error: unknown) => void,
): Promise<BodyInit> {
  const { reader } = found.open;
  if (range.length > BUFFERED_BODY_LIMIT) {
    const stream = partial
      ? await reader.stream(found.entry, range)
      : await reader.stream(found.entry);
    return observeBody(stream, onStreamError);
  }
  if (!partial) return await reader.readFile(found.entry) as Uint8Array<ArrayBuffer>;
  return await readAll(await reader.stream(found.entry, range)) as Uint8Array<ArrayBuffer>;
}

/** Header texts of a file's validators, kept per index entry object (a hot file reuses its entry). */
const validatorTexts = new WeakMap<IndexEntry, Record<string, string>>();

function validatorsOf(entry: IndexEntry, rep: Representation): Record<string, string> {
  let texts = validatorTexts.get(entry);
  if (!texts) {
    texts = {
      "etag": formatEntityTag(rep.etag),
      "last-modified": formatHttpDate(rep.lastModified),
      "cache-control": IMMUTABLE_CACHE_CONTROL,
    };
    validatorTexts.set(entry, texts);
  }
  return texts;
}

/** The JSON document of `GET /files/{name}/meta`. */
export function fileMetaDocument(found: FoundFile): Record<string, unknown> {
  const { entry, meta, open } = found;
  return {
    name: entry.name,
    size: entry.size,
    sha256: toHex(entry.sha256),
    crc32c: u32Hex(entry.crc32c),
    contentType: meta.contentType ?? DEFAULT_CONTENT_TYPE,
    mtime: meta.mtime === undefined ? null : new Date(meta.mtime).toISOString(),
    container: open.container.key,
    containerId: open.container.id,
    shard: open.container.shard,
    external: entry.external,
    ...(meta.source !== undefined ? { source: meta.source } : {}),
    ...(meta.attrs !== undefined ? { attrs: meta.attrs } : {}),
  };
}

/** `GET /files/{name}/meta` as a response. */
export function metaResponse(found: FoundFile): Response {
  const body = JSON.stringify(fileMetaDocument(found));
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(body).byteLength),
      "etag": formatEntityTag({ weak: true, opaque: toHex(found.entry.sha256) }),
      "cache-control": "public, max-age=3600",
    },
  });
}
