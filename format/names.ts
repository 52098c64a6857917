/**
 * File names inside a container: 1..1024 bytes of UTF-8, no NUL, no leading
 * `/`, no `..` segment. Names are compared byte-wise (UTF-8 order), which is
 * the order of the INDEX.
 *
 * @module
 */

import { DesFormatError, DesInputError } from "../core/errors.ts";
import { MAX_NAME_BYTES } from "./constants.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Why `name` is not a valid file name, or `undefined` when it is. */
export function nameProblem(name: unknown): string | undefined {
  return typeof name === "string" ? check(name).problem : "not a string";
}

/** Validate `name` and return its UTF-8 bytes; `DesInputError` when it is not a valid name. */
export function encodeName(name: string): Uint8Array {
  const { problem, bytes } = typeof name === "string"
    ? check(name)
    : { problem: "not a string", bytes: undefined };
  if (problem !== undefined || bytes === undefined) {
    throw new DesInputError(`invalid file name: ${problem}`, {
      name: typeof name === "string" ? name.slice(0, 200) : String(name),
    });
  }
  return bytes;
}

function check(name: string): { problem?: string; bytes?: Uint8Array } {
  if (name.length === 0) return { problem: "empty" };
  if (name.length > MAX_NAME_BYTES) return { problem: `longer than ${MAX_NAME_BYTES} bytes` };
  if (!name.isWellFormed()) return { problem: "not valid Unicode (lone surrogate)" };
  if (name.includes("\0")) return { problem: "contains NUL" };
  if (name.startsWith("/")) return { problem: "starts with /" };
  if (name.includes("..") && name.split("/").includes("..")) {
    return { problem: "has a '..' segment" };
  }
  const bytes = encoder.encode(name);
  if (bytes.byteLength > MAX_NAME_BYTES) {
    return { problem: `longer than ${MAX_NAME_BYTES} bytes (${bytes.byteLength})` };
  }
  return { bytes };
}

/** Decode a stored name; `DesFormatError` when the bytes are not UTF-8. */
export function decodeName(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new DesFormatError("file name in the index is not valid UTF-8", {
      length: bytes.byteLength,
    }, cause);
  }
}
