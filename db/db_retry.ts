/**
 * When a statement that failed on a lost database connection may be sent
 * again on a fresh one, and how long to wait between attempts.
 *
 * Safe to repeat: a read (it changed nothing), and a transaction whose
 * `commit` was never sent (the server rolled it back). Not safe: a single
 * writing statement or a `commit` in flight when the connection went away
 * (it may have taken effect); those fail with `DesUnavailableError` and the
 * caller abandons that piece of work, which recovery or the next run resumes.
 *
 * @module
 */

/** Attempts of one statement or transaction on connection errors (the first included). */
export const CONNECTION_ATTEMPTS = 4;

/** Milliseconds to wait before attempt `n + 1` (n ≥ 1): 100, 400, 1 600 … */
export function retryDelayMs(attempt: number): number {
  return 100 * 4 ** (attempt - 1);
}

const READ_START = /^\s*(?:\/\*[\s\S]*?\*\/\s*|--[^\n]*\n\s*)*(?:select|show|explain|values)\b/i;
const WRITE_WORD =
  /\b(?:insert|update|delete|merge|into|nextval|setval|pg_notify|pg_advisory\w*|pg_terminate_backend|pg_cancel_backend|lo_\w+|set_config|for\s+(?:no\s+key\s+)?(?:update|share|key\s+share)|copy|call|do|listen|unlisten|notify|lock)\b/i;

/**
 * Whether a single statement only reads, so that repeating it after a lost
 * connection cannot change anything. Conservative: a `select` that mentions
 * a writing word anywhere (even in a string) counts as a write.
 */
export function isRepeatableRead(text: string): boolean {
  return READ_START.test(text) && !WRITE_WORD.test(text) && !text.includes(";");
}
