/**
 * `des ls <container> [--json]`: list a container's files.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DesInputError } from "../../core/errors.ts";
import { openContainer } from "../container_arg.ts";
import { hex, writeLine } from "../output.ts";

/** CLI entry. */
export async function lsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length !== 1) throw new DesInputError("usage: des ls <container> [--json]");
  const { reader } = await openContainer(positionals[0]);
  if (values.json) {
    const rows = [];
    for (const e of reader.entries()) {
      const meta = reader.meta(e);
      rows.push({
        name: e.name,
        size: e.size,
        crc32c: e.crc32c.toString(16).padStart(8, "0"),
        sha256: hex(e.sha256),
        external: e.external,
        contentType: meta.contentType ?? null,
        mtime: meta.mtime ?? null,
      });
    }
    await writeLine(JSON.stringify(rows, null, 2));
    return 0;
  }
  const lines: string[] = [];
  for (const e of reader.entries()) {
    lines.push(`${e.name}\t${e.size}\t${e.crc32c.toString(16).padStart(8, "0")}`);
    if (lines.length >= 4096) await writeLine(lines.splice(0).join("\n"));
  }
  if (lines.length > 0) await writeLine(lines.join("\n"));
  return 0;
}
