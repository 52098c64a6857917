/**
 * Small statistics helpers shared by the benchmarks: medians, percentiles,
 * ratio formatting and timing of a function or a subprocess.
 *
 * @module
 */

/** The `p`-th percentile (0..100) of `values` (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The median of `values`. */
export function median(values: number[]): number {
  return percentile(values, 50);
}

/** `x.xx×` with two decimals. */
export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** Milliseconds `fn` takes. */
export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Run a command, fail loudly on a non-zero exit, return wall milliseconds and stdout. */
export async function timeCommand(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return { ms, stdout: new TextDecoder().decode(out.stdout) };
}

/** A machine description line for benchmark reports. */
export function machineLine(): string {
  let cpu = "unknown cpu";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? cpu;
  } catch { /* not linux */ }
  const memGiB = (Deno.systemMemoryInfo().total / 1024 ** 3).toFixed(0);
  return `${navigator.hardwareConcurrency} cores (${cpu}), ${memGiB} GiB RAM, Deno ${Deno.version.deno}`;
}
