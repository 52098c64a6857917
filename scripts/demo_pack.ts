/**
 * A demonstration of the container format with no services at all: pack a
 * generated sample directory into a container under `.des/demo/`, read files
 * back by name and by range, and verify every checksum.
 *
 * @module
 */

import { join } from "node:path";
import { packDirectory } from "../cli/commands/pack_dir.ts";
import { DesReader, FileRangeSource } from "../format/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DIR = join(ROOT, ".des/demo");
const tree = join(DIR, "sample");
const container = join(DIR, "sample.des");

await Deno.remove(DIR, { recursive: true }).catch(() => {});
for (let i = 0; i < 2000; i++) {
  const dir = join(tree, `batch-${String(Math.floor(i / 100)).padStart(2, "0")}`);
  if (i % 100 === 0) await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, `invoice-${String(i).padStart(5, "0")}.txt`),
    `Invoice ${i}\nAmount: ${(i * 13.37).toFixed(2)} EUR\n`.repeat(1 + (i % 40)),
  );
}
const result = await packDirectory(tree, container);
console.log(`packed ${result.files} files (${result.bytes} bytes) into ${container}`);

const source = await FileRangeSource.open(container);
const reader = await DesReader.open(source);
const name = "batch-07/invoice-00742.txt";
const bytes = await reader.readFile(name);
console.log(
  `read ${name}: ${bytes.byteLength} bytes, first line "${
    new TextDecoder().decode(bytes).split("\n")[0]
  }"`,
);
const report = await reader.verify();
console.log(`verify: ${report.ok ? "OK" : "FAILED"} (${report.filesChecked} files checked)`);
source.close();
console.log(`
Try the CLI on it:
  deno task des ls ${container} | head
  deno task des cat ${container} ${name}
  deno task des inspect ${container}
  deno task des verify ${container}`);
