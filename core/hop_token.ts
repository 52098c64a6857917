/**
 * The shared secret of the gateway → retriever hop (`DES_RETRIEVER_TOKEN`):
 * the gateway sends it as `Authorization: Bearer <token>`, the retriever
 * compares it in constant time (SHA-256 digests of equal length, so neither
 * content nor length leaks through timing).
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { EnvSource } from "./config.ts";
import { DesConfigError } from "./errors.ts";

/** Environment variable of the hop token. */
export const RETRIEVER_TOKEN_ENV = "DES_RETRIEVER_TOKEN";

/** Shortest accepted token (characters). */
export const MIN_TOKEN_LENGTH = 24;

/**
 * The token from its raw setting: `undefined` when unset or empty; a
 * `DesConfigError` when shorter than {@linkcode MIN_TOKEN_LENGTH} or when it
 * contains whitespace (the value itself is never echoed).
 */
export function parseHopToken(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value)) {
    throw new DesConfigError(
      `${RETRIEVER_TOKEN_ENV} must be at least ${MIN_TOKEN_LENGTH} characters without spaces`,
      { setting: RETRIEVER_TOKEN_ENV, length: value.length },
    );
  }
  return value;
}

/**
 * The token of `env` (see {@linkcode parseHopToken}); an invalid one is
 * pushed to `problems` and read as unset, so a start-up check can report
 * every problem at once.
 */
export function hopTokenOf(env: EnvSource, problems: string[]): string | undefined {
  try {
    return parseHopToken(env.get(RETRIEVER_TOKEN_ENV));
  } catch (e) {
    problems.push((e as Error).message);
    return undefined;
  }
}

function digest(value: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(value).digest());
}

/** Checks `Authorization` headers against one token in constant time. */
export class HopTokenCheck {
  readonly #expected: Uint8Array;

  /** @param token the shared secret */
  constructor(token: string) {
    this.#expected = digest(`Bearer ${token}`);
  }

  /** Whether `authorization` is exactly `Bearer <token>`. */
  accepts(authorization: string | null): boolean {
    return timingSafeEqual(digest(authorization ?? ""), this.#expected);
  }
}
