/**
 * `des`: the DES command line. Each subcommand is a thin shell over the
 * library; errors are printed as one actionable line and mapped to exit codes
 * (1 = failure or bad data, 2 = bad usage or configuration). Every command
 * is loaded on first use, so each one starts with only the modules it needs
 * (a local `pack-dir` never loads the S3 client).
 *
 * @module
 */

import { DesConfigError, DesError, DesInputError } from "../core/errors.ts";
import { REBUILD_CATALOG_USAGE } from "./commands/rebuild_catalog_usage.ts";
import { ERASURE_REPORT_USAGE } from "./commands/erasure_report_usage.ts";
import { MARK_USAGE, REAP_USAGE } from "../mark/usage.ts";
import { COMPACT_USAGE, PACK_USAGE, RECOVER_USAGE } from "../pack/usage.ts";
import { SCRUB_USAGE } from "../scrub/usage.ts";
import { SERVE_USAGE } from "../serve/usage.ts";

/** A subcommand: takes its arguments, returns the exit code. */
export type Command = (args: string[]) => Promise<number>;

/** A subcommand with its usage line and a one-line summary. */
export interface CommandSpec {
  /** Runs it. */
  run: Command;
  /** Usage without the leading `des `. */
  usage: string;
  /** What it does. */
  summary: string;
}

/** Every subcommand. */
export const COMMANDS: Record<string, CommandSpec> = {
  "pack-dir": {
    run: async (a) => (await import("./commands/pack_dir.ts")).packDirCommand(a),
    usage:
      "pack-dir <dir> -o <path|s3://bucket/key> [--create-bucket] [--big-file-threshold 16MiB] [--readers N]",
    summary: "pack a directory tree into one container",
  },
  ls: {
    run: async (a) => (await import("./commands/ls.ts")).lsCommand(a),
    usage: "ls <container> [--json]",
    summary: "list a container's files",
  },
  cat: {
    run: async (a) => (await import("./commands/cat.ts")).catCommand(a),
    usage: "cat <container> <name> [--range a-b]",
    summary: "write one file's bytes to stdout (verified first)",
  },
  inspect: {
    run: async (a) => (await import("./commands/inspect.ts")).inspectCommand(a),
    usage: "inspect <container> [--json]",
    summary: "header, footer, descriptor, counts and sizes",
  },
  verify: {
    run: async (a) => (await import("./commands/verify.ts")).verifyCommand(a),
    usage: "verify <container>",
    summary: "check every checksum; exit 1 naming each damaged file",
  },
  migrate: {
    run: async (a) => (await import("./commands/migrate.ts")).migrateCommand(a),
    usage: "migrate [--database-url URL]",
    summary: "apply the metadata DB migrations (idempotent)",
  },
  "audit-maintain": {
    run: async (a) => (await import("./commands/audit_maintain.ts")).auditMaintainCommand(a),
    usage: "audit-maintain [--retention-days N] [--ahead-days N] [--json] [--database-url URL]",
    summary: "create the read audit's day partitions ahead, drop those past the retention",
  },
  mark: {
    run: async (a) => (await import("../mark/main.ts")).markCommand(a),
    usage: MARK_USAGE,
    summary: "mark eligible parent rows with DES names",
  },
  reap: {
    run: async (a) => (await import("../mark/main.ts")).reapCommand(a),
    usage: REAP_USAGE,
    summary: "carry out the parents' deletion rules (tombstone, then purge)",
  },
  pack: {
    run: async (a) => (await import("../pack/main.ts")).packCommand(a),
    usage: PACK_USAGE,
    summary: "pack marked files into containers",
  },
  recover: {
    run: async (a) => (await import("../pack/main.ts")).recoverCommand(a),
    usage: RECOVER_USAGE,
    summary: "finish or clean up what crashed packers and compactors left",
  },
  compact: {
    run: async (a) => (await import("../pack/compact_main.ts")).compactCommand(a),
    usage: COMPACT_USAGE,
    summary: "rewrite containers with many deleted files; delete retired objects after grace",
  },
  scrub: {
    run: async (a) =>
      a.includes("--report")
        ? (await import("./commands/scrub_report.ts")).scrubReportCommand(a)
        : (await import("../scrub/main.ts")).scrubCommand(a),
    usage: SCRUB_USAGE,
    summary:
      "verify containers at a bounded rate and repair damaged files; --report shows findings",
  },
  "rebuild-catalog": {
    run: async (a) => (await import("./commands/rebuild_catalog.ts")).rebuildCatalogCommand(a),
    usage: REBUILD_CATALOG_USAGE,
    summary: "recreate container rows of the metadata DB from the bucket",
  },
  serve: {
    run: async (a) => (await import("../serve/main.ts")).serveCommand(a),
    usage: SERVE_USAGE,
    summary: "marker, packer, retriever and gateway in one process",
  },
  status: {
    run: async (a) => (await import("./commands/status.ts")).statusCommand(a),
    usage:
      "status [--json] [--sources configs/sources.yaml] [--trend-window 1h] [--database-url URL]",
    summary: "the archive at a glance; exit 1 when something needs attention",
  },
  "erasure-report": {
    run: async (a) => (await import("./commands/erasure_report.ts")).erasureReportCommand(a),
    usage: ERASURE_REPORT_USAGE,
    summary: "when a deleted name's bytes left storage; exit 1 while they are still stored",
  },
  env: {
    run: async (a) => (await import("./commands/env.ts")).envCommand(a),
    usage: "env [--markdown]",
    summary: "show every setting and its current value",
  },
};

function usage(): string {
  return [
    "usage: des <command> [options]",
    "",
    "commands:",
    ...Object.values(COMMANDS).map((c) => `  ${c.usage}\n      ${c.summary}`),
    "",
    "A container is a local path or s3://bucket/key (endpoint and keys from DES_S3_* env vars).",
  ].join("\n");
}

/** Run the CLI with `args`; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`des: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    return reportError(name, e);
  }
}

function reportError(command: string, e: unknown): number {
  if (e instanceof DesInputError || e instanceof DesConfigError) {
    console.error(`des ${command}: ${e.message}`);
    return 2;
  }
  if (e instanceof DesError) {
    console.error(`des ${command}: ${e.message}`);
    return 1;
  }
  const code = (e as { code?: string }).code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
    console.error(`des ${command}: ${(e as Error).message}`);
    return 2;
  }
  if (e instanceof Deno.errors.NotFound) {
    console.error(`des ${command}: ${(e as Error).message}`);
    return 1;
  }
  console.error(`des ${command}: unexpected error: ${(e as Error)?.stack ?? e}`);
  return 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
