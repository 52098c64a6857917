/**
 * Mapping of S3 client failures to DES errors.
 *
 * @module
 */

import {
  DesConfigError,
  DesConflictError,
  DesError,
  DesNotFoundError,
  DesUnavailableError,
} from "../core/errors.ts";
import { notSatisfiable } from "./range.ts";
import type { RangeRequest } from "./object_store.ts";

/** Where a failed S3 request went. */
export interface S3ErrorContext {
  /** Endpoint URL (or "aws" for the default). */
  endpoint: string;
  /** Bucket name. */
  bucket: string;
  /** Object key or prefix. */
  key: string;
  /** What was being done, e.g. "get". */
  op: string;
  /** The range of a get. */
  range?: RangeRequest;
  /** The part of a multipart upload. */
  partNumber?: number;
}

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const REFUSED_CREATE = new Set([
  "AccessDenied",
  "TooManyBuckets",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
]);

/**
 * A DES error for a failed CreateBucket: refused (no permission, bucket quota)
 * → `DesConfigError` saying the bucket is missing and may not be created;
 * anything else as {@linkcode s3Error}.
 */
export function bucketCreationError(error: unknown, where: S3ErrorContext): DesError {
  const e = (error ?? {}) as SdkError;
  const code = e.Code ?? e.name ?? e.code ?? "Error";
  if (REFUSED_CREATE.has(code) || e.$metadata?.httpStatusCode === 403) {
    return new DesConfigError(
      `archive bucket ${where.bucket} does not exist at ${where.endpoint} and the S3 user may not create it (${code}): create the bucket, or use credentials that may create buckets`,
      { ...where, s3Code: code, httpStatus: e.$metadata?.httpStatusCode },
    );
  }
  return s3Error(error, where);
}

/**
 * A DES error for an S3 failure: missing object → `DesNotFoundError`,
 * precondition failed → `DesConflictError`, unsatisfiable range →
 * `DesRangeNotSatisfiableError`, missing bucket or rejected credentials →
 * `DesConfigError`, anything else (network, 5xx) → `DesUnavailableError`.
 */
export function s3Error(error: unknown, where: S3ErrorContext): DesError {
  if (error instanceof DesError) return error;
  const e = (error ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? e.name ?? e.code ?? "Error";
  const target = `s3://${where.bucket}/${where.key}`;
  const context = { ...where, s3Code: code, httpStatus: status };
  if (code === "NoSuchBucket") {
    return new DesConfigError(
      `bucket ${where.bucket} does not exist at ${where.endpoint}`,
      context,
    );
  }
  if (code === "NoSuchKey" || code === "NotFound" || (status === 404 && where.op !== "list")) {
    return new DesNotFoundError(`no object ${target}`, context);
  }
  if (status === 412 || code === "PreconditionFailed") {
    return new DesConflictError(`precondition failed on ${where.op} ${target}`, context);
  }
  if ((status === 416 || code === "InvalidRange") && where.range) {
    return notSatisfiable(where.range, undefined, where.key);
  }
  if (
    status === 403 || code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch" ||
    code === "AccessDenied"
  ) {
    return new DesConfigError(
      `S3 at ${where.endpoint} refused ${where.op} ${target} (${code}): check DES_S3_* credentials`,
      context,
    );
  }
  const what = status ? `HTTP ${status} ${code}` : `${code}: ${e.message ?? String(error)}`;
  return new DesUnavailableError(
    `S3 ${where.op} ${target} at ${where.endpoint} failed: ${what}`,
    context,
    error,
  );
}
