/**
 * A log sink that batches lines: a service writing one access line per
 * request would otherwise make one `write` system call per request. Lines
 * are kept in memory and written together when the buffer reaches
 * {@linkcode LOG_BUFFER_BYTES}, when the flush timer fires
 * ({@linkcode LOG_FLUSH_MS} after the first buffered line), at once for an
 * `error` line (so it and everything before it are out before a crash),
 * on {@linkcode BufferedLogSink.close}, and when the process exits
 * (`unload`, which `Deno.exit` also dispatches). Order is kept: a batch is
 * written in the order its lines were logged.
 *
 * @example
 * ```ts
 * const buffer = new BufferedLogSink();
 * const log = new Logger("gateway", { sink: buffer.sink });
 * log.info("request", { status: 200 });
 * buffer.close(); // written
 * ```
 *
 * @module
 */

import type { LogLevel, LogSink } from "./log.ts";

/** Buffered bytes (about) that trigger a write. */
export const LOG_BUFFER_BYTES = 64 * 1024;

/** Most milliseconds a line waits in the buffer. */
export const LOG_FLUSH_MS = 100;

const encoder = new TextEncoder();

/** Where a batch goes: stderr unless told otherwise. */
export type BatchWriter = (text: string) => void;

const writeStderr: BatchWriter = (text) => {
  const bytes = encoder.encode(text);
  let at = 0;
  while (at < bytes.length) at += Deno.stderr.writeSync(bytes.subarray(at));
};

/** A batching {@linkcode LogSink}; see the module documentation. */
export class BufferedLogSink {
  /** The sink to give a `Logger`. */
  readonly sink: LogSink;
  readonly #write: BatchWriter;
  readonly #maxBytes: number;
  readonly #flushMs: number;
  #lines: string[] = [];
  #bytes = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;
  readonly #onUnload = () => this.flush();

  /**
   * @param options `write` receives each batch (default: stderr); `maxBytes`
   *   and `flushMs` bound how much and how long lines wait
   */
  constructor(options: { write?: BatchWriter; maxBytes?: number; flushMs?: number } = {}) {
    this.#write = options.write ?? writeStderr;
    this.#maxBytes = options.maxBytes ?? LOG_BUFFER_BYTES;
    this.#flushMs = options.flushMs ?? LOG_FLUSH_MS;
    this.sink = (line, level) => this.#add(line, level);
    globalThis.addEventListener("unload", this.#onUnload);
  }

  /** Lines waiting to be written. */
  get pending(): number {
    return this.#lines.length;
  }

  /** Write every buffered line now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("\n") + "\n";
    this.#lines = [];
    this.#bytes = 0;
    try {
      this.#write(text);
    } catch {
      // stderr closed: nothing left to tell
    }
  }

  /** Flush, and from now on write every line at once (late lines are not lost). */
  close(): void {
    this.flush();
    this.#closed = true;
    globalThis.removeEventListener("unload", this.#onUnload);
  }

  #add(line: string, level?: LogLevel): void {
    this.#lines.push(line);
    this.#bytes += line.length + 1;
    if (this.#closed || level === "error" || this.#bytes >= this.#maxBytes) {
      this.flush();
    } else if (this.#timer === undefined) {
      const timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#flushMs);
      // A pending flush must not keep the process alive; exit flushes through `unload`.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }
}
