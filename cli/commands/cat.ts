/**
 * `des cat <container> <name> [--range a-b]`: raw bytes of one file to stdout.
 * A whole file is verified against its checksums before any byte is written
 * (files up to 64 MiB; larger ones are streamed and verified at the end).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DesInputError, DesNotFoundError } from "../../core/errors.ts";
import { openContainer } from "../container_arg.ts";
import { writeStdout } from "../output.ts";

const BUFFERED_VERIFY_LIMIT = 64 * 1024 * 1024;

/** Parse `a-b` (inclusive), `a-` or `-n` against a file of `size` bytes. */
export function parseCliRange(spec: string, size: number): { offset: number; length: number } {
  const m = /^(\d*)-(\d*)$/.exec(spec);
  if (!m || (m[1] === "" && m[2] === "")) {
    throw new DesInputError(`bad range "${spec}": expected a-b, a- or -n (bytes, inclusive)`);
  }
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) {
    throw new DesInputError(`range "${spec}" is outside the file (${size} bytes)`, { size });
  }
  return { offset: start, length: end - start + 1 };
}

/** CLI entry. */
export async function catCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { range: { type: "string" } },
  });
  if (positionals.length !== 2) {
    throw new DesInputError("usage: des cat <container> <name> [--range a-b]");
  }
  const [location, name] = positionals;
  const { reader } = await openContainer(location);
  const entry = reader.find(name);
  if (!entry) throw new DesNotFoundError(`no file "${name}" in ${location}`, { name });
  if (values.range) {
    if (entry.size === 0) return 0;
    const range = parseCliRange(values.range, entry.size);
    for await (const chunk of await reader.stream(entry, range)) await writeStdout(chunk);
  } else if (entry.size <= BUFFERED_VERIFY_LIMIT) {
    await writeStdout(await reader.readFile(entry));
  } else {
    for await (const chunk of await reader.stream(entry)) await writeStdout(chunk);
  }
  return 0;
}
