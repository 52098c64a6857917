/**
 * `des verify <container>`: check every checksum. Exit 1 naming every bad file.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DesInputError } from "../../core/errors.ts";
import { Progress } from "../../core/progress.ts";
import { openContainer } from "../container_arg.ts";

/** CLI entry. */
export async function verifyCommand(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new DesInputError("usage: des verify <container>");
  const { reader } = await openContainer(positionals[0]);
  const progress = new Progress("verify", { total: reader.entryCount });
  let files = 0;
  let bytes = 0;
  const report = await reader.verify((p) => {
    progress.tick(p.filesDone - files, p.bytesDone - bytes);
    files = p.filesDone;
    bytes = p.bytesDone;
  });
  const summary = progress.done();
  if (report.ok) {
    console.log(`${summary}\nOK: ${positionals[0]}: every checksum matches`);
    return 0;
  }
  for (const bad of report.badFiles) {
    const values = bad.expected ? ` (expected ${bad.expected}, got ${bad.actual})` : "";
    console.error(`BAD: ${bad.name}: ${bad.reason}${values}`);
  }
  for (const problem of report.problems) console.error(`BAD: ${problem}`);
  console.error(
    `FAILED: ${
      positionals[0]
    }: ${report.badFiles.length} bad file(s), ${report.problems.length} structural problem(s)`,
  );
  return 1;
}
