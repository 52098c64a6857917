/**
 * `pack/compact_main.ts --once` as a child process, for the kill tests: it
 * may kill itself at a write-ahead transition (`DES_FAULT_KILL_AT`).
 *
 * @module
 */

import type { PackWorld } from "./pack_world.ts";

const MAIN = new URL("../../pack/compact_main.ts", import.meta.url).pathname;

/** How a compactor run ended. */
export interface CompactorRun {
  /** Killed by SIGKILL (its own fault injection). */
  killed: boolean;
  /** Exit code. */
  code: number;
  /** The end of its stderr. */
  stderr: string;
}

/** Run `pack/compact_main.ts --once` with `env`; it may kill itself (`DES_FAULT_KILL_AT`). */
export async function runCompactor(
  world: PackWorld,
  env: Record<string, string>,
): Promise<CompactorRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      MAIN,
      "--once",
      "--sources",
      world.sourcesPath,
      "--lease",
      "2s",
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    killed: out.signal === "SIGKILL",
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr).slice(-4000),
  };
}
