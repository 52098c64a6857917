/**
 * Process health metrics, added to every {@linkcode Registry} and read at
 * scrape time: CPU seconds (user, system), resident memory, V8 heap, open
 * file descriptors and their limit, start time, and the event loop's lag.
 * Names follow the Prometheus client conventions (`process_*`), so standard
 * dashboards and alerts apply.
 *
 * The lag is measured by one process-wide timer that fires every 250 ms and
 * records how late it ran; the gauge shows the worst lag since the previous
 * scrape. The timer starts with the first registry and is unref'd, so it
 * never keeps a process alive. (prom-client's default metrics read Node's
 * `monitorEventLoopDelay`, which reports about 1.6 µs whatever the load
 * under Deno, which is why DES measures it itself.)
 *
 * @module
 */

import process from "node:process";
import type { Registry } from "./metrics.ts";

const SAMPLE_MS = 250;
const FD_DIR = "/proc/self/fd";

/** The process-wide lag sampler: worst lag seen, per reader, since it last read. */
class LagSampler {
  #readers = new Map<object, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #expected = 0;

  /** Start sampling (idempotent). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#expected = performance.now() + SAMPLE_MS;
    const timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - this.#expected) / 1000;
      this.#expected = now + SAMPLE_MS;
      for (const [reader, worst] of this.#readers) {
        if (lag > worst) this.#readers.set(reader, lag);
      }
    }, SAMPLE_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Worst lag in seconds since `reader` last asked (0 the first time), then reset. */
  take(reader: object): number {
    const worst = this.#readers.get(reader) ?? 0;
    this.#readers.set(reader, 0);
    return worst;
  }

  /** Forget `reader` (its registry is gone). */
  forget(reader: object): void {
    this.#readers.delete(reader);
  }
}

const lagSampler = new LagSampler();
const readers = new FinalizationRegistry<object>((reader) => lagSampler.forget(reader));

function canRead(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

/** Open file descriptors (Linux `/proc/self/fd`), or undefined where that cannot be read. */
export function openFds(): number | undefined {
  if (Deno.build.os !== "linux" || !canRead(FD_DIR)) return undefined;
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(FD_DIR)) n++;
    return n - 1; // the descriptor of the directory being read
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  if (Deno.build.os !== "linux" || !canRead("/proc/self/limits")) return undefined;
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.slice("Max open files".length).trim().split(/\s+/)[0]);
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

/** Add the process metrics to `registry`; they are read each time it renders. */
export function addProcessMetrics(registry: Registry): void {
  const cpuUser = registry.counter("process_cpu_user_seconds_total", "User CPU time spent");
  const cpuSystem = registry.counter("process_cpu_system_seconds_total", "System CPU time spent");
  const cpu = registry.counter("process_cpu_seconds_total", "User and system CPU time spent");
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size");
  const heapUsed = registry.gauge("process_heap_used_bytes", "V8 heap in use");
  const heapTotal = registry.gauge("process_heap_total_bytes", "V8 heap allocated");
  const external = registry.gauge(
    "process_external_memory_bytes",
    "Memory of objects outside the V8 heap (buffers)",
  );
  const fds = registry.gauge("process_open_fds", "Open file descriptors");
  const fdLimit = registry.gauge("process_max_fds", "Limit of open file descriptors");
  const start = registry.gauge("process_start_time_seconds", "Start time, Unix seconds");
  const lag = registry.gauge(
    "process_event_loop_lag_seconds",
    "Worst event loop lag since the previous scrape (a 250 ms timer's delay)",
  );
  const startSeconds = Math.round(Date.now() / 1000 - performance.now() / 1000);
  const reader = {};
  readers.register(registry, reader);
  lagSampler.start();
  let seenUser = 0;
  let seenSystem = 0;
  registry.onCollect(() => {
    const usage = process.cpuUsage();
    const user = usage.user / 1e6;
    const system = usage.system / 1e6;
    cpuUser.inc({}, user - seenUser);
    cpuSystem.inc({}, system - seenSystem);
    cpu.inc({}, user - seenUser + system - seenSystem);
    seenUser = user;
    seenSystem = system;
    const memory = Deno.memoryUsage();
    rss.set(memory.rss);
    heapUsed.set(memory.heapUsed);
    heapTotal.set(memory.heapTotal);
    external.set(memory.external);
    const open = openFds();
    if (open !== undefined) fds.set(open);
    const limit = maxFds();
    if (limit !== undefined) fdLimit.set(limit);
    start.set(startSeconds);
    lag.set(lagSampler.take(reader));
  });
}
