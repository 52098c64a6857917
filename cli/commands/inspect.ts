/**
 * `des inspect <container> [--json]`: header, footer, descriptor, counts and sizes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { decodeHeader, HEADER_SIZE } from "../../format/mod.ts";
import { DesInputError } from "../../core/errors.ts";
import { StoreRangeSource } from "../../store/range_source.ts";
import { openContainer } from "../container_arg.ts";
import { writeLine } from "../output.ts";

/** CLI entry. */
export async function inspectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" } },
  });
  if (positionals.length !== 1) throw new DesInputError("usage: des inspect <container> [--json]");
  const { reader, store, key } = await openContainer(positionals[0]);
  const header = decodeHeader(await new StoreRangeSource(store, key).read(0, HEADER_SIZE));
  let dataBytes = 0;
  let external = 0;
  let largest = 0;
  for (const e of reader.entries()) {
    if (e.external) external++;
    else dataBytes += e.size;
    largest = Math.max(largest, e.size);
  }
  const f = reader.footer;
  const report = {
    location: positionals[0],
    size: reader.size,
    header,
    footer: f,
    descriptor: reader.descriptor,
    files: reader.entryCount,
    externalFiles: external,
    dataBytes,
    largestFile: largest,
    overheadBytes: reader.size - dataBytes,
  };
  if (values.json) {
    await writeLine(JSON.stringify(report, jsonReplacer, 2));
    return 0;
  }
  const lines = [
    `container   ${report.location}`,
    `size        ${report.size} bytes`,
    `format      ${reader.descriptor.formatVersion}  (writer ${reader.descriptor.writer})`,
    `id          ${reader.descriptor.containerId}`,
    `created     ${new Date(reader.descriptor.createdAt).toISOString()}`,
    `shard       ${reader.descriptor.shard ?? "-"}   source ${reader.descriptor.source ?? "-"}`,
    `files       ${report.files} (${external} external big files)`,
    `names       ${reader.descriptor.firstName ?? "-"} … ${reader.descriptor.lastName ?? "-"}`,
    `data        ${dataBytes} bytes, largest file ${largest} bytes`,
    `overhead    ${report.overheadBytes} bytes (header, meta, index, footer)`,
    `header      ${JSON.stringify(header, jsonReplacer)}`,
    `footer      ${JSON.stringify(f, jsonReplacer)}`,
  ];
  await writeLine(lines.join("\n"));
  return 0;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) {
    return Array.from(value, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return value;
}
