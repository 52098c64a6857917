/**
 * Minimal assertions for tests (the standard library's are not available
 * offline). Built on `node:assert` so failures print a diff.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/** Deep strict inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.notDeepStrictEqual(actual, expected, msg);
}

/** Truthiness. */
export function assert_(value: unknown, msg?: string): asserts value {
  assert.ok(value, msg);
}
export { assert_ as assert };

/** `text` matches `re`. */
export function assertMatch(text: string, re: RegExp, msg?: string): void {
  assert.match(text, re, msg);
}

/** `fn` throws an instance of `type` (any error when omitted); returns it. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (e) {
    checkError(e, type, msgIncludes);
    return e as E;
  }
  throw new assert.AssertionError({ message: "expected the function to throw" });
}

/** The promise rejects with an instance of `type` (any error when omitted); returns it. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  msgIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    checkError(e, type, msgIncludes);
    return e as E;
  }
  throw new assert.AssertionError({ message: "expected the promise to reject" });
}

function checkError(
  e: unknown,
  // deno-lint-ignore no-explicit-any
  type: (new (...args: any[]) => Error) | undefined,
  msgIncludes: string | undefined,
): void {
  if (type && !(e instanceof type)) {
    throw new assert.AssertionError({
      message: `expected ${type.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`,
    });
  }
  if (msgIncludes && !String((e as Error)?.message).includes(msgIncludes)) {
    throw new assert.AssertionError({
      message: `expected message to include "${msgIncludes}", got "${(e as Error)?.message}"`,
    });
  }
}
