/**
 * OpenAPI 3.1 document of the gateway, generated from the route table in
 * `routes.ts`.
 *
 * Kept rather than `@hono/zod-openapi` or `hono-openapi` (both work under
 * Deno 2.9) for a need, not for speed (the document is built once at start):
 * the routes stream bodies and answer by hand-written HTTP semantics, with no
 * request schemas to validate, so a schema library would add zod and a
 * rewrite of every route for a document that one table here already gives.
 *
 * @module
 */

import type { ResponseDoc, RouteDoc } from "./routes.ts";

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

const SCHEMAS: JsonObject = {
  Problem: {
    type: "object",
    description: "RFC 9457 problem details.",
    required: ["type", "title", "status"],
    properties: {
      type: { type: "string", format: "uri-reference" },
      title: { type: "string" },
      status: { type: "integer" },
      detail: { type: "string" },
      instance: { type: "string" },
    },
    additionalProperties: true,
  },
  FileMeta: {
    type: "object",
    required: ["name", "size", "sha256", "crc32c", "contentType", "shard"],
    properties: {
      name: { type: "string" },
      size: { type: "integer", minimum: 0 },
      sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
      crc32c: { type: "string", pattern: "^[0-9a-f]{8}$" },
      contentType: { type: "string" },
      mtime: { type: ["string", "null"], format: "date-time" },
      container: {
        type: "string",
        description: "Object key of the container (admin scope only).",
      },
      containerId: { type: "string" },
      shard: { type: "integer", minimum: 0 },
      external: { type: "boolean" },
      source: { type: "string", description: "Parent source (admin scope only)." },
      attrs: { type: "object", description: "Parent attributes (admin scope only)." },
    },
  },
};

/** Options of {@linkcode openApiDocument}. */
export interface OpenApiOptions {
  /** API version string. */
  version: string;
  /** Whether API keys are configured (routes with a scope then require one). */
  authEnabled: boolean;
  /** Name pattern (regular expression source) for the `name` parameter. */
  namePattern?: string;
}

/** Build the OpenAPI 3.1 document for `routes`. */
export function openApiDocument(routes: readonly RouteDoc[], options: OpenApiOptions): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path][route.method] = operation(route, options);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "DES read API",
      version: options.version,
      description: "Files archived in DES containers, by name. Errors are RFC 9457 problem+json.",
    },
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: { apiKey: { type: "http", scheme: "bearer" } },
    },
  };
}

function operation(route: RouteDoc, options: OpenApiOptions): JsonObject {
  const parameters: JsonObject[] = [];
  for (const m of route.path.matchAll(/\{([^}]+)\}/g)) {
    parameters.push({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string", ...(options.namePattern ? { pattern: options.namePattern } : {}) },
    });
  }
  for (const header of route.requestHeaders ?? []) {
    parameters.push({ name: header, in: "header", required: false, schema: { type: "string" } });
  }
  const responses: JsonObject = {};
  for (const [status, doc] of Object.entries(route.responses)) {
    if ((status === "401" || status === "403") && !options.authEnabled) continue;
    responses[status] = response(doc);
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(route.scope && options.authEnabled ? { security: [{ apiKey: [route.scope] }] } : {}),
    responses,
  };
}

function response(doc: ResponseDoc): JsonObject {
  const out: JsonObject = { description: doc.description };
  if (doc.headers?.length) {
    out.headers = Object.fromEntries(doc.headers.map((h) => [h, { schema: { type: "string" } }]));
  }
  if (doc.content) {
    const schema = doc.content.schema
      ? { $ref: `#/components/schemas/${doc.content.schema}` }
      : doc.content.binary
      ? { type: "string", contentMediaType: "application/octet-stream" }
      : {};
    out.content = { [doc.content.mediaType]: { schema } };
  }
  return out;
}
