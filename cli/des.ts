/**
 * `des`: the DES command line. Each subcommand is a thin shell over the
 * library; errors are printed as one actionable line and mapped to exit codes
 * (1 = failure or bad data, 2 = bad usage or configuration).
 *
 * @module
 */

import { DesConfigError, DesError, DesInputError } from "../core/errors.ts";
import { catCommand } from "./commands/cat.ts";
import { envCommand } from "./commands/env.ts";
import { inspectCommand } from "./commands/inspect.ts";
import { lsCommand } from "./commands/ls.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { MARK_USAGE, markCommand } from "../mark/main.ts";
import { packDirCommand } from "./commands/pack_dir.ts";
import { verifyCommand } from "./commands/verify.ts";

/** A subcommand: takes its arguments, returns the exit code. */
export type Command = (args: string[]) => Promise<number>;

/** Every subcommand with a one-line description. */
export const COMMANDS: Record<string, { run: Command; help: string }> = {
  "pack-dir": {
    run: packDirCommand,
    help: "pack-dir <dir> -o <path|s3://bucket/key>   pack a directory tree into a container",
  },
  ls: { run: lsCommand, help: "ls <container> [--json]                     list files" },
  cat: {
    run: catCommand,
    help: "cat <container> <name> [--range a-b]        write a file's bytes to stdout",
  },
  inspect: {
    run: inspectCommand,
    help: "inspect <container> [--json]                header, footer, counts, sizes",
  },
  mark: { run: markCommand, help: MARK_USAGE },
  migrate: {
    run: migrateCommand,
    help: "migrate [--database-url URL]                apply metadata DB migrations (idempotent)",
  },
  env: {
    run: envCommand,
    help: "env [--markdown]                            show every setting and its current value",
  },
  verify: {
    run: verifyCommand,
    help: "verify <container>                          check every checksum (exit 1 on damage)",
  },
};

function usage(): string {
  return [
    "usage: des <command> [options]",
    "",
    "commands:",
    ...Object.values(COMMANDS).map((c) => `  ${c.help}`),
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
