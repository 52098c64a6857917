/**
 * META codecs: the container descriptor (first in META) and the per-file
 * meta records, both UTF-8 JSON with a fixed key order so the same input
 * always gives the same bytes. Layout in `docs/format.md` §META.
 *
 * @module
 */

import { DesFormatError, DesInputError } from "../core/errors.ts";
import { MAX_DESCRIPTOR_BYTES, MAX_META_RECORD_BYTES } from "./constants.ts";

/** Per-file metadata stored in the file's meta record. */
export interface FileMeta {
  /** MIME type of the content. */
  contentType?: string;
  /** Modification time of the original, ms since the Unix epoch. */
  mtime?: number;
  /** Where the original lived (path or URL). */
  originalLocation?: string;
  /** Name of the source system. */
  source?: string;
  /** Free-form attributes. */
  attrs?: Record<string, string>;
  /** Object key of the content of an external (big) file; set by the writer. */
  externalKey?: string;
}

/** The self-description of a container, first in META. */
export interface ContainerDescriptor {
  /** Format version that wrote it, e.g. `"1.0"`. */
  formatVersion: string;
  /** Container id, 32 lower-case hex digits (same as in the header). */
  containerId: string;
  /** Creation time, ms since the Unix epoch (same as in the header). */
  createdAt: number;
  /** Writer identification, `des/<version>`. */
  writer: string;
  /** Number of files. */
  entryCount: number;
  /** Smallest name (byte order), absent when empty. */
  firstName?: string;
  /** Largest name (byte order), absent when empty. */
  lastName?: string;
  /** Shard the container belongs to. */
  shard?: number;
  /** Source system of its files. */
  source?: string;
  /** Free-form attributes. */
  attrs?: Record<string, string>;
}

type ErrorClass = typeof DesInputError | typeof DesFormatError;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Encode a meta record; `DesInputError` on wrong field types or when larger than 64 KiB. */
export function encodeFileMeta(meta: FileMeta): Uint8Array {
  const clean = fileMetaFields(meta, DesInputError);
  const bytes = encoder.encode(JSON.stringify(clean));
  if (bytes.byteLength > MAX_META_RECORD_BYTES) {
    throw new DesInputError(
      `meta record is ${bytes.byteLength} bytes, above the limit of ${MAX_META_RECORD_BYTES}`,
      { length: bytes.byteLength, limit: MAX_META_RECORD_BYTES },
    );
  }
  return bytes;
}

/** Decode a meta record; `DesFormatError` when it is not a valid record. */
export function decodeFileMeta(bytes: Uint8Array): FileMeta {
  return fileMetaFields(parseJson(bytes, "meta record"), DesFormatError);
}

/** Encode the container descriptor; `DesInputError` on wrong field types or size. */
export function encodeDescriptor(descriptor: ContainerDescriptor): Uint8Array {
  const clean = descriptorFields(descriptor, DesInputError);
  const bytes = encoder.encode(JSON.stringify(clean));
  if (bytes.byteLength > MAX_DESCRIPTOR_BYTES) {
    throw new DesInputError(
      `container descriptor is ${bytes.byteLength} bytes, above ${MAX_DESCRIPTOR_BYTES}`,
      { length: bytes.byteLength, limit: MAX_DESCRIPTOR_BYTES },
    );
  }
  return bytes;
}

/** Decode the container descriptor; `DesFormatError` when it is not valid. */
export function decodeDescriptor(bytes: Uint8Array): ContainerDescriptor {
  const value = parseJson(bytes, "container descriptor") as unknown as ContainerDescriptor;
  return descriptorFields(value, DesFormatError);
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new DesFormatError(`${what} is not UTF-8 JSON`, { length: bytes.byteLength }, cause);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DesFormatError(`${what} is not a JSON object`, { length: bytes.byteLength });
  }
  return value as Record<string, unknown>;
}

function fileMetaFields(value: FileMeta, error: ErrorClass): FileMeta {
  const v = objectOf(value, "meta", error);
  const out: FileMeta = {};
  if (v.contentType !== undefined) out.contentType = stringField(v, "contentType", "meta", error);
  if (v.mtime !== undefined) {
    if (typeof v.mtime !== "number" || !Number.isFinite(v.mtime)) {
      fail("meta", "mtime", "is not a number", error);
    }
    out.mtime = v.mtime as number;
  }
  if (v.originalLocation !== undefined) {
    out.originalLocation = stringField(v, "originalLocation", "meta", error);
  }
  if (v.source !== undefined) out.source = stringField(v, "source", "meta", error);
  if (v.attrs !== undefined) out.attrs = attrsField(v, "meta", error);
  if (v.externalKey !== undefined) out.externalKey = stringField(v, "externalKey", "meta", error);
  return out;
}

function descriptorFields(value: ContainerDescriptor, error: ErrorClass): ContainerDescriptor {
  const what = "descriptor";
  const v = objectOf(value, what, error);
  const containerId = stringField(v, "containerId", what, error);
  if (!/^[0-9a-f]{32}$/.test(containerId)) fail(what, "containerId", "is not 32 hex digits", error);
  const out: ContainerDescriptor = {
    formatVersion: stringField(v, "formatVersion", what, error),
    containerId,
    createdAt: countField(v, "createdAt", what, error),
    writer: stringField(v, "writer", what, error),
    entryCount: countField(v, "entryCount", what, error),
  };
  if (v.firstName !== undefined) out.firstName = stringField(v, "firstName", what, error);
  if (v.lastName !== undefined) out.lastName = stringField(v, "lastName", what, error);
  if (v.shard !== undefined) out.shard = countField(v, "shard", what, error);
  if (v.source !== undefined) out.source = stringField(v, "source", what, error);
  if (v.attrs !== undefined) out.attrs = attrsField(v, what, error);
  return out;
}

function fail(what: string, field: string, why: string, error: ErrorClass): never {
  throw new error(`${what} field ${field} ${why}`, { field });
}

function objectOf(value: unknown, what: string, error: ErrorClass): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new error(`${what} is not an object`, {});
  }
  return value as Record<string, unknown>;
}

function stringField(
  v: Record<string, unknown>,
  field: string,
  what: string,
  error: ErrorClass,
): string {
  const item = v[field];
  return typeof item === "string" ? item : fail(what, field, "is not a string", error);
}

function countField(
  v: Record<string, unknown>,
  field: string,
  what: string,
  error: ErrorClass,
): number {
  const item = v[field];
  return Number.isSafeInteger(item) && (item as number) >= 0
    ? item as number
    : fail(what, field, "is not a non-negative integer", error);
}

function attrsField(
  v: Record<string, unknown>,
  what: string,
  error: ErrorClass,
): Record<string, string> {
  const attrs = v.attrs;
  if (typeof attrs !== "object" || attrs === null || Array.isArray(attrs)) {
    fail(what, "attrs", "is not an object", error);
  }
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(attrs as Record<string, unknown>)) {
    if (typeof item !== "string") fail(what, `attrs.${key}`, "is not a string", error);
    Object.defineProperty(out, key, {
      value: item,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
