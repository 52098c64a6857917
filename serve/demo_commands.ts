/**
 * How the demo tells a new user what to type next: the command that runs
 * Deno the way this process was started (plain `deno`, `npx -y deno@…` or
 * the binary's full path), and a check that the chosen port is free before
 * the sample is built.
 *
 * @module
 */

import { basename, delimiter, dirname, join } from "node:path";

/** The port the demo wants is taken; the message says how to choose another. */
export class DemoPortBusyError extends Error {
  /** @param message what happened and what to type instead */
  constructor(message: string) {
    super(message);
    this.name = "DemoPortBusyError";
  }
}

/** What {@linkcode denoCommand} looks at; defaults to this process. */
export interface DenoCommandContext {
  /** Path of the running Deno binary (`Deno.execPath()`). */
  execPath: string;
  /** Environment variable reader. */
  env: (name: string) => string | undefined;
  /** Canonical path of a file, or undefined when it does not exist. */
  realPath: (path: string) => string | undefined;
}

function realPathOrUndefined(path: string): string | undefined {
  try {
    // Never prompt: the demo runs with read access to the repository only.
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    return Deno.realPathSync(path);
  } catch {
    return undefined;
  }
}

const THIS_PROCESS: DenoCommandContext = {
  execPath: Deno.execPath(),
  env: (name) => Deno.env.get(name),
  realPath: realPathOrUndefined,
};

/**
 * The shell words that start Deno the way this process was started:
 * `npx -y deno@<version>` when npx started it (`npm_command=exec`, or a
 * binary in npx's cache); `deno` when the shell ran `deno` from `PATH` or
 * the `deno` found on `PATH` is this binary; otherwise the binary's full
 * path.
 */
export function denoCommand(context: DenoCommandContext = THIS_PROCESS): string {
  const self = context.realPath(context.execPath) ?? context.execPath;
  // npx puts its deno on the PATH of this process only, not on the user's shell's.
  if (self.includes("/_npx/") || context.env("npm_command") === "exec") {
    return `npx -y deno@${Deno.version.deno}`;
  }
  const path = (context.env("PATH") ?? "").split(delimiter);
  // The shell records the command it ran in `_`: `deno task demo` typed in bash passes
  // `/usr/bin/deno` down to the demo even when this binary is a symlink's target.
  const invoked = context.env("_") ?? "";
  if (basename(invoked) === "deno" && path.includes(dirname(invoked))) return "deno";
  for (const dir of path) {
    if (dir === "") continue;
    if (dir === dirname(context.execPath) && basename(context.execPath) === "deno") return "deno";
    if (context.realPath(join(dir, "deno")) === self) return "deno";
  }
  return /^[\w./-]+$/.test(context.execPath) ? context.execPath : `'${context.execPath}'`;
}

/**
 * Throws {@linkcode DemoPortBusyError} when `port` cannot be listened on at
 * `hostname`, naming `--port` and a command that would work. Port 0 (any
 * free port) always passes.
 */
export function assertPortFree(hostname: string, port: number, retry: string): void {
  if (port === 0) return;
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname, port });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new DemoPortBusyError(
        `port ${port} on ${hostname} is already in use (another demo or server?).\n` +
          `Choose another port with --port, e.g.:\n  ${retry}`,
      );
    }
    throw error;
  }
  listener.close();
}
