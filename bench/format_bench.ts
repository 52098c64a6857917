/**
 * Container format benchmark:
 * 1. `des pack-dir` vs `tar -cf` on the same tree of small files, alternating,
 *    with a floor: a bare Deno process that only walks and reads the same
 *    files (`read_floor.ts`); wall and CPU time (user + system) of each;
 * 2. 1,000 random reads from a local container vs reading the original files;
 * 3. peak RSS of a process packing 100,000 files.
 *
 * Run alone: `deno run -A bench/format_bench.ts [--files 20000] [--rss-files 100000]`.
 *
 * @module
 */

import type { Figure } from "./figures.ts";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { DesReader, FileRangeSource } from "../format/mod.ts";
import { median, ratio, timeIt } from "./stats.ts";
import { makeTree } from "./tree.ts";
import { packDirectory } from "../cli/commands/pack_dir.ts";

/** Figures produced by {@linkcode runFormatBench}. */
export interface FormatBenchResult {
  /** Lines for the report. */
  lines: string[];
  /** The figures for the combined table. */
  figures: Figure[];
}

const ROOT = new URL("..", import.meta.url).pathname;

/** `deno run` and its flags as the `des` task of `deno.json` runs the CLI, with the CLI's path. */
function desCommand(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  const words = String(config.tasks.des).split(/\s+/);
  return words.map((w) => (w === "cli/des.ts" ? join(ROOT, w) : w));
}

/** One measured run of a command. */
interface Run {
  ms: number;
  cpuMs: number;
  kib: number;
}

/** One run of a command under GNU time: wall and CPU milliseconds, peak RSS in KiB. */
async function measure(
  cmd: string,
  args: string[],
): Promise<Run> {
  const t0 = performance.now();
  const res = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%U %S %M", cmd, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  const text = new TextDecoder().decode(res.stderr).trim().split("\n");
  if (!res.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${text.join("\n")}`);
  const [user, system, kib] = text[text.length - 1].split(" ").map(Number);
  return { ms, cpuMs: (user + system) * 1000, kib };
}

/** Run the format benchmark and return printable lines. */
export async function runFormatBench(
  options: { files?: number; fileSize?: number; rounds?: number; rssFiles?: number } = {},
): Promise<FormatBenchResult> {
  const files = options.files ?? 20_000;
  const fileSize = options.fileSize ?? 4096;
  const rounds = options.rounds ?? 3;
  const rssFiles = options.rssFiles ?? 100_000;
  const work = await Deno.makeTempDir({ prefix: "des-bench-format-" });
  const lines: string[] = [];
  const figures: Figure[] = [];
  try {
    const tree = join(work, "tree");
    const names = await makeTree(tree, files, fileSize);
    const mb = (files * fileSize) / 1e6;
    const container = join(work, "out.des");
    const tarFile = join(work, "out.tar");
    const des = desCommand();
    const tarArgs = ["-cf", tarFile, "-C", tree, "."];
    const desArgs = [...des.slice(1), "pack-dir", tree, "-o", container];
    const floorArgs = ["run", "--allow-read", join(ROOT, "bench/read_floor.ts"), tree];
    // warm the page cache and Deno's module cache once
    await measure("tar", tarArgs);
    await measure(des[0], desArgs);
    await measure("deno", floorArgs);
    const runs = { tar: [] as Run[], des: [] as Run[], floor: [] as Run[] };
    const desLibMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      runs.tar.push(await measure("tar", tarArgs));
      runs.des.push(await measure(des[0], desArgs));
      runs.floor.push(await measure("deno", floorArgs));
      desLibMs.push(await timeIt(() => packDirectory(tree, container)));
    }
    const tar = median(runs.tar.map((r) => r.ms));
    const desCli = median(runs.des.map((r) => r.ms));
    const floor = median(runs.floor.map((r) => r.ms));
    const desLib = median(desLibMs);
    const cpu = (list: Run[]) => {
      const ms = median(list.map((r) => r.cpuMs));
      return `CPU ${ms.toFixed(0)} ms (${(ms * 1000 / files).toFixed(0)} µs/file)`;
    };
    lines.push(
      `pack ${files} × ${fileSize} B (${mb.toFixed(1)} MB), median of ${rounds}, alternating:`,
      `  tar -cf            ${tar.toFixed(0)} ms  ${(mb / (tar / 1000)).toFixed(1)} MB/s  ${
        cpu(runs.tar)
      }`,
      `  Deno floor         ${floor.toFixed(0)} ms  ${(mb / (floor / 1000)).toFixed(1)} MB/s  ${
        cpu(runs.floor)
      }  → ${ratio(tar, floor)} tar throughput (walk + lstat + read, incl. process start)`,
      `  des pack-dir (CLI) ${desCli.toFixed(0)} ms  ${(mb / (desCli / 1000)).toFixed(1)} MB/s  ${
        cpu(runs.des)
      }  → ${ratio(tar, desCli)} tar, ${ratio(floor, desCli)} floor (incl. process start)`,
      `  packDirectory()    ${desLib.toFixed(0)} ms  ${(mb / (desLib / 1000)).toFixed(1)} MB/s  → ${
        ratio(tar, desLib)
      } tar throughput (library, in-process)`,
    );

    figures.push({
      suite: "format",
      name: `des pack-dir (CLI, incl. start) vs tar -cf, ${files} × ${fileSize} B`,
      des: `${desCli.toFixed(0)} ms`,
      baseline: `${tar.toFixed(0)} ms`,
      ratio: tar / desCli,
      goal: { op: ">=", value: 1 },
    });
    figures.push({
      suite: "format",
      name: `floor: bare Deno walk + lstat + read of the same tree vs tar -cf`,
      des: `${floor.toFixed(0)} ms`,
      baseline: `${tar.toFixed(0)} ms`,
      ratio: tar / floor,
    });

    // random reads
    const source = await FileRangeSource.open(container);
    const reader = await DesReader.open(source);
    const picks = Array.from(
      { length: 1000 },
      () => names[Math.floor(Math.random() * names.length)],
    );
    const readRounds = 3;
    const desReadMs: number[] = [];
    const fsReadMs: number[] = [];
    for (let r = 0; r < readRounds; r++) {
      fsReadMs.push(
        await timeIt(async () => {
          for (const n of picks) await Deno.readFile(join(tree, n));
        }),
      );
      desReadMs.push(
        await timeIt(async () => {
          for (const n of picks) await reader.readFile(n);
        }),
      );
    }
    source.close();
    const fsRead = median(fsReadMs);
    const desRead = median(desReadMs);
    figures.push({
      suite: "format",
      name: "local random reads from a container vs the original files",
      des: `${(1000 / (desRead / 1000)).toFixed(0)} files/s`,
      baseline: `${(1000 / (fsRead / 1000)).toFixed(0)} files/s`,
      ratio: fsRead / desRead,
      goal: { op: ">=", value: 1 },
    });
    lines.push(
      `random reads, 1,000 files (verified CRC-32C + SHA-256), median of ${readRounds}:`,
      `  original files  ${fsRead.toFixed(1)} ms  ${(1000 / (fsRead / 1000)).toFixed(0)} files/s`,
      `  DES container   ${desRead.toFixed(1)} ms  ${
        (1000 / (desRead / 1000)).toFixed(0)
      } files/s  → ${ratio(fsRead, desRead)} of direct reads`,
    );

    // peak RSS while packing many files
    if (rssFiles > 0) {
      const big = join(work, "rss-tree");
      await makeTree(big, rssFiles, 1024);
      const { kib, ms } = await measure(des[0], [
        ...des.slice(1),
        "pack-dir",
        big,
        "-o",
        join(work, "rss.des"),
      ]);
      figures.push({
        suite: "format",
        name: `peak RSS of des pack-dir, ${rssFiles} × 1 KiB`,
        des: `${(kib / 1024).toFixed(0)} MiB`,
        baseline: "128 MiB",
        ratio: kib / 1024 / 128,
        goal: { op: "<=", value: 1 },
      });
      lines.push(
        `peak RSS of des pack-dir on ${rssFiles} × 1 KiB files: ${(kib / 1024).toFixed(0)} MiB ` +
          `(${(ms / 1000).toFixed(1)} s)`,
      );
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  return { lines, figures };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { files: { type: "string" }, "rss-files": { type: "string" } },
  });
  const r = await runFormatBench({
    files: values.files ? Number(values.files) : undefined,
    rssFiles: values["rss-files"] ? Number(values["rss-files"]) : undefined,
  });
  console.log(r.lines.join("\n"));
}
