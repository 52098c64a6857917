/**
 * The packer (also the compactor and the scrubber) as a service: runs
 * repeated with a poll interval, and `/metrics`, `/healthz` and `/readyz`
 * (the metadata database answers) on an HTTP port. SIGTERM or SIGINT stops
 * it after the current run.
 *
 * @module
 */

import type { Registry } from "../core/metrics.ts";
import { sleep } from "../mark/backoff.ts";
import { databaseReady, markerApp } from "../mark/server.ts";
import type { PackEnvironment } from "./pack_setup.ts";

/** Something run again and again: the packer, the compactor, the scrubber. */
export interface RepeatedRun {
  /** One run. */
  runOnce(): Promise<unknown>;
}

/** Options of {@linkcode servePacker}. */
export interface ServeOptions {
  /** Registry rendered at `/metrics`. */
  registry: Registry;
  /** Aborted on SIGTERM/SIGINT; the packer must use its signal. */
  controller: AbortController;
  /** HTTP port (0 = any free port). */
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Pause between packing runs. */
  intervalMs: number;
  /** Name in log lines (default `packer`). */
  name?: string;
  /** What one run is called in the log line of a failed one (default `<name> run`). */
  runName?: string;
}

/** Run `packer` in a loop until a signal arrives; resolves to the exit status. */
export async function servePacker(
  packer: RepeatedRun,
  environment: PackEnvironment,
  options: ServeOptions,
): Promise<number> {
  const { controller, registry } = options;
  const log = environment.logger;
  const name = options.name ?? "packer";
  const runName = options.runName ?? `${name} run`;
  const stop = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  const server = Deno.serve({
    port: options.port,
    hostname: options.host,
    signal: controller.signal,
    onListen: ({ port, hostname }) => log.info(`${name} listening`, { port, hostname }),
  }, markerApp(registry, { metadata: databaseReady(environment.db) }).fetch);
  try {
    while (!controller.signal.aborted) {
      try {
        await packer.runOnce();
      } catch (error) {
        log.error(`${runName} failed; next try after the interval`, { error: error as Error });
      }
      await sleep(options.intervalMs, controller.signal);
    }
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    controller.abort();
    await server.finished;
  }
  log.info(`${name} stopped`);
  return 0;
}
