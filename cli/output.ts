/**
 * Output helpers for CLI commands: write to stdout with back-pressure.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Write all of `bytes` to stdout. */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await Deno.stdout.write(bytes.subarray(at));
}

/** Write `text` and a newline to stdout. */
export function writeLine(text: string): Promise<void> {
  return writeStdout(encoder.encode(text + "\n"));
}

/** Lowercase hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
