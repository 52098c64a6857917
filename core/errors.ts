/**
 * Typed errors shared by every DES component. Each error carries a stable
 * machine-readable `code`, an HTTP status for the edge, and a context object
 * that makes the message actionable. `toProblem()` renders RFC 9457 problem
 * details.
 *
 * @module
 */

/** An RFC 9457 problem details object. */
export interface ProblemDetails {
  /** A URI reference identifying the problem type. */
  type: string;
  /** A short, human-readable summary of the problem type. */
  title: string;
  /** The HTTP status code. */
  status: number;
  /** A human-readable explanation specific to this occurrence. */
  detail?: string;
  /** A URI reference identifying this occurrence. */
  instance?: string;
  /** Extension members. */
  [extension: string]: unknown;
}

/** Base class of all DES errors. */
export class DesError extends Error {
  /** Stable identifier of the error kind, e.g. `format.bad-magic`. */
  readonly code: string;
  /** HTTP status the error maps to at the edge. */
  readonly status: number;
  /** Extra facts about the failure (object key, offsets, file name …). */
  readonly context: Record<string, unknown>;

  /**
   * @param message what went wrong, in words a person can act on
   * @param options code, status, context and the underlying cause
   */
  constructor(
    message: string,
    options: {
      code: string;
      status?: number;
      context?: Record<string, unknown>;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status ?? 500;
    this.context = options.context ?? {};
  }

  /** Render as RFC 9457 problem details. */
  toProblem(instance?: string): ProblemDetails {
    return {
      type: `https://des.dev/problems/${this.code}`,
      title: this.name,
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...this.context,
    };
  }
}

/** Bad bytes in a DES container: wrong magic, checksum, offsets, truncation. */
export class DesFormatError extends DesError {
  /** @param message what is malformed @param context where */
  constructor(message: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { code: "format.malformed", status: 502, context, cause });
  }
}

/** Stored bytes do not match their recorded checksum. */
export class DesChecksumError extends DesError {
  /** @param message which check failed @param context file name, expected, actual */
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { code: "format.checksum-mismatch", status: 502, context });
  }
}

/** A thing that was asked for does not exist (object, file, container). */
export class DesNotFoundError extends DesError {
  /** @param message what was not found @param context key or name */
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { code: "not-found", status: 404, context });
  }
}

/** Invalid input from a caller: a bad name, range, argument or option. */
export class DesInputError extends DesError {
  /** @param message what is wrong with the input @param context the value */
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { code: "bad-input", status: 400, context });
  }
}

/** Invalid configuration found at start-up. */
export class DesConfigError extends DesError {
  /** @param message which setting is wrong and how to fix it @param context the setting */
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { code: "config.invalid", status: 500, context });
  }
}

/** A backing service (S3, Postgres, a retriever) failed or did not answer. */
export class DesUnavailableError extends DesError {
  /** @param message which service and what happened @param context endpoint etc. */
  constructor(message: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { code: "unavailable", status: 503, context, cause });
  }
}

/** An object changed under a reader (ETag or size no longer matches the pinned one). */
export class DesConflictError extends DesError {
  /** @param message what changed @param context key, expected and actual version */
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { code: "conflict", status: 409, context });
  }
}
