/**
 * Child processes for the kill tests: `deno run` of an entry point that may
 * kill itself at a write-ahead transition (`DES_FAULT_KILL_AT`) or be killed
 * after a delay.
 *
 * @module
 */

import type { PackWorld } from "./pack_world.ts";

const COMPACT_MAIN = new URL("../../pack/compact_main.ts", import.meta.url).pathname;

/** How a child run ended. */
export interface KillableRun {
  /** Killed by SIGKILL (its own fault injection or the delay). */
  killed: boolean;
  /** Exit code. */
  code: number;
  /** The end of its stderr. */
  stderr: string;
}

/** `deno run -A --unstable-kv main ...args` with `env`, SIGKILLed after `afterMs` when given. */
export async function runKillable(
  main: string,
  args: string[],
  env: Record<string, string>,
  afterMs?: number,
): Promise<KillableRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", main, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = afterMs === undefined
    ? undefined
    : setTimeout(() => child.kill("SIGKILL"), afterMs);
  const out = await child.output();
  clearTimeout(timer);
  return {
    killed: out.signal === "SIGKILL",
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr).slice(-4000),
  };
}

/** Run `pack/compact_main.ts --once` over `world` with `env` (2 s leases). */
export function runCompactor(world: PackWorld, env: Record<string, string>): Promise<KillableRun> {
  return runKillable(
    COMPACT_MAIN,
    ["--once", "--sources", world.sourcesPath, "--lease", "2s"],
    env,
  );
}
