/**
 * The gateway's HTTP surface as data: one entry per operation, with the
 * facts the OpenAPI document is generated from and the scope an API key
 * needs for it. The app registers a handler for every `operationId` listed
 * here, so the document, the scope checks and the server cannot drift apart.
 *
 * @module
 */

import type { Scope } from "./auth.ts";

/** A documented response of an operation. */
export interface ResponseDoc {
  /** What it means. */
  description: string;
  /** Body media type and the component schema it follows (`$ref` name), if any. */
  content?: { mediaType: string; schema?: string; binary?: boolean };
  /** Response headers worth documenting. */
  headers?: string[];
}

/** One operation of the gateway. */
export interface RouteDoc {
  /** Unique operation id; the app maps it to a handler. */
  operationId: string;
  /** HTTP method (lowercase, as in OpenAPI). */
  method: "get" | "head" | "post" | "delete";
  /** OpenAPI path template, e.g. `/files/{name}`. */
  path: string;
  /** One-line summary. */
  summary: string;
  /** Longer description. */
  description?: string;
  /** Grouping tag. */
  tag: "files" | "names" | "operations";
  /**
   * Scope an API key needs when keys are configured; none = open to
   * everyone. `admin` on `/readyz` guards only the details.
   */
  scope?: Scope;
  /** One audit row per request (`des_read_audit`). */
  audited?: boolean;
  /** Request headers the operation honours. */
  requestHeaders?: string[];
  /** Responses by status code. */
  responses: Record<string, ResponseDoc>;
}

const FILE_HEADERS = [
  "ETag",
  "X-Content-Type-Options",
  "Content-Security-Policy",
  "Last-Modified",
  "Content-Type",
  "Content-Length",
  "Accept-Ranges",
  "Cache-Control",
  "X-DES-Retriever",
];
const PROBLEM = { mediaType: "application/problem+json", schema: "Problem" };
const CONDITIONAL = ["If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"];

const fileErrors: Record<string, ResponseDoc> = {
  "400": { description: "Malformed name.", content: PROBLEM },
  "401": { description: "Missing or invalid API key.", content: PROBLEM },
  "403": { description: "The API key lacks the scope of this route.", content: PROBLEM },
  "404": { description: "No file with this name.", content: PROBLEM },
  "410": { description: "The file was deleted (tombstoned).", content: PROBLEM },
  "405": {
    description: "Only GET, HEAD and (admin) DELETE are allowed on a file.",
    content: PROBLEM,
    headers: ["Allow"],
  },
  "429": { description: "Rate limit exceeded.", content: PROBLEM, headers: ["Retry-After"] },
  "503": {
    description: "The retriever owning the name's shard is not answering, or " +
      "(DES_GATEWAY_AUDIT_REQUIRED) the read cannot be audited.",
    content: PROBLEM,
    headers: ["Retry-After"],
  },
};

/** Every operation the gateway serves. */
export const GATEWAY_ROUTES: readonly RouteDoc[] = [
  {
    operationId: "getFile",
    method: "get",
    path: "/files/{name}",
    summary: "Read a file",
    description: "Bytes of one archived file. One byte range (`Range: bytes=a-b`, `a-`, `-n`) " +
      "gives 206; a header with several ranges is ignored and the whole file is sent (200); " +
      "a malformed Range header is ignored.",
    tag: "files",
    scope: "read",
    audited: true,
    requestHeaders: ["Range", "If-Range", ...CONDITIONAL, "traceparent"],
    responses: {
      "200": {
        description: "The whole file.",
        content: { mediaType: "application/octet-stream", binary: true },
        headers: FILE_HEADERS,
      },
      "206": {
        description: "The requested byte range.",
        content: { mediaType: "application/octet-stream", binary: true },
        headers: [...FILE_HEADERS, "Content-Range"],
      },
      "304": {
        description: "Not modified (If-None-Match / If-Modified-Since).",
        headers: ["ETag"],
      },
      "412": { description: "If-Match or If-Unmodified-Since failed.", content: PROBLEM },
      "416": {
        description: "Range not satisfiable.",
        content: PROBLEM,
        headers: ["Content-Range"],
      },
      ...fileErrors,
    },
  },
  {
    operationId: "headFile",
    method: "head",
    path: "/files/{name}",
    summary: "Headers of a file",
    description: "Same headers as GET, answered from the container index without reading data.",
    tag: "files",
    scope: "read",
    audited: true,
    requestHeaders: [...CONDITIONAL, "traceparent"],
    responses: {
      "200": { description: "The file exists.", headers: FILE_HEADERS },
      "304": { description: "Not modified.", headers: ["ETag"] },
      "412": { description: "Precondition failed." },
      ...fileErrors,
    },
  },
  {
    operationId: "getFileMeta",
    method: "get",
    path: "/files/{name}/meta",
    summary: "Metadata of a file",
    description: "The container key (`container`), the parent source (`source`) and the " +
      "parent's attributes (`attrs`) are included only for keys with the `admin` scope " +
      "(or when the gateway runs without keys).",
    tag: "files",
    scope: "meta",
    audited: true,
    requestHeaders: ["traceparent"],
    responses: {
      "200": {
        description: "Name, size, checksums, content type, mtime and shard.",
        content: { mediaType: "application/json", schema: "FileMeta" },
      },
      ...fileErrors,
    },
  },
  {
    operationId: "deleteFile",
    method: "delete",
    path: "/files/{name}",
    summary: "Delete a file",
    description: "Writes the name's tombstone: from then on every read of it answers 410 Gone " +
      "(all retrievers within a second). The bytes count as dead in their container until " +
      "compaction rewrites it; a big file's object is deleted at once. Idempotent: deleting a " +
      "deleted name answers 204 again. See docs/lifecycle.md.",
    tag: "files",
    scope: "admin",
    audited: true,
    requestHeaders: ["traceparent"],
    responses: {
      "204": { description: "Deleted (now or before).", headers: ["X-DES-Retriever"] },
      "400": fileErrors["400"],
      "401": fileErrors["401"],
      "403": { description: "The API key lacks the admin scope.", content: PROBLEM },
      "404": { description: "No archived file has this name.", content: PROBLEM },
      "429": fileErrors["429"],
      "503": fileErrors["503"],
    },
  },
  {
    operationId: "getOpenApi",
    method: "get",
    path: "/openapi.json",
    summary: "This document",
    tag: "operations",
    responses: {
      "200": { description: "OpenAPI 3.1", content: { mediaType: "application/json" } },
    },
  },
  {
    operationId: "getHealth",
    method: "get",
    path: "/healthz",
    summary: "Liveness",
    tag: "operations",
    responses: { "200": { description: "The process is alive." } },
  },
  {
    operationId: "getReady",
    method: "get",
    path: "/readyz",
    summary: "Readiness",
    description: "200 when every retriever in the routing table answers its /readyz (and, " +
      "with DES_GATEWAY_AUDIT_REQUIRED, the audit can record reads). The `checks` member " +
      "naming each dependency is included for keys with the `admin` scope (or without keys).",
    tag: "operations",
    responses: {
      "200": { description: "Ready.", content: { mediaType: "application/json" } },
      "503": {
        description: "Not ready.",
        content: { mediaType: "application/json" },
        headers: ["Retry-After"],
      },
    },
  },
  {
    operationId: "getMetrics",
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics",
    tag: "operations",
    scope: "admin",
    responses: {
      "200": { description: "Text exposition format 0.0.4." },
      "401": { description: "Missing or invalid API key.", content: PROBLEM },
      "403": { description: "The API key lacks the admin scope.", content: PROBLEM },
    },
  },
];

/** Most bytes a `POST /names` body may have (413 beyond). */
export const MAX_NAMES_BODY_BYTES = 1024;

/** `POST /names`, served when the gateway is given a name generator. */
export const NAMES_ROUTE: RouteDoc = {
  operationId: "postNames",
  method: "post",
  path: "/names",
  summary: "Assign new names",
  description: 'Body `{"count": n}` (1..10000, default 1; at most ' +
    `${MAX_NAMES_BODY_BYTES} bytes). Answers \`{"names": [{"name", "shard"}]}\`.`,
  tag: "names",
  scope: "names",
  responses: {
    "200": {
      description: "The assigned names and their shards.",
      content: { mediaType: "application/json" },
    },
    "400": { description: "Malformed body or count.", content: PROBLEM },
    "401": { description: "Missing or invalid API key.", content: PROBLEM },
    "403": { description: "The API key lacks the names scope.", content: PROBLEM },
    "413": { description: "The body is too large.", content: PROBLEM },
    "429": { description: "Rate limit exceeded.", content: PROBLEM, headers: ["Retry-After"] },
  },
};

/** The Hono path of an OpenAPI path template (`/files/{name}` → `/files/:name`). */
export function honoPath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, ":$1");
}
