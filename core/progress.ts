/**
 * Progress reporting for commands run by hand: a redrawn bar on a terminal,
 * nothing but a final summary line otherwise (logs and CI stay clean).
 *
 * Kept rather than `cli-progress` (npm) for a need, not for speed (a bar
 * redrawn a few times a second costs nothing measurable): this is 80 lines
 * with no dependency, writes synchronously to `Deno.stderr` and decides by
 * `isTerminal()` itself; the library would bring Node streams, its own
 * terminal detection and formats, and still need the summary-line mode.
 *
 * @module
 */

/** Reports progress of a job with a known or unknown total. */
export class Progress {
  #label: string;
  #total: number | undefined;
  #done = 0;
  #bytes = 0;
  #started = performance.now();
  #lastDraw = 0;
  #tty: boolean;
  #out: { writeSync(p: Uint8Array): number };
  #enc = new TextEncoder();

  /**
   * @param label what is being done, e.g. `packing`
   * @param options expected number of items; force terminal mode on/off
   */
  constructor(label: string, options: { total?: number; tty?: boolean } = {}) {
    this.#label = label;
    this.#total = options.total;
    this.#out = Deno.stderr;
    this.#tty = options.tty ?? Deno.stderr.isTerminal();
  }

  /** Count `items` more items and `bytes` more bytes. */
  tick(items = 1, bytes = 0): void {
    this.#done += items;
    this.#bytes += bytes;
    if (!this.#tty) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#draw();
  }

  /** Seconds since start. */
  get elapsed(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Finish: clear the bar and print one summary line. */
  done(extra = ""): string {
    const s = this.elapsed;
    const line = `${this.#label}: ${this.#done} files, ${formatBytes(this.#bytes)} in ${
      s.toFixed(2)
    } s (${Math.round(this.#done / Math.max(s, 1e-9))} files/s, ${
      formatBytes(this.#bytes / Math.max(s, 1e-9))
    }/s)${extra ? ", " + extra : ""}`;
    if (this.#tty) this.#out.writeSync(this.#enc.encode("\r\x1b[2K"));
    return line;
  }

  #draw(): void {
    const width = 30;
    let bar = "";
    if (this.#total) {
      const filled = Math.min(width, Math.round((this.#done / this.#total) * width));
      bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${this.#done}/${this.#total}`;
    } else {
      bar = `${this.#done}`;
    }
    const rate = formatBytes(this.#bytes / Math.max(this.elapsed, 1e-9));
    this.#out.writeSync(this.#enc.encode(`\r\x1b[2K${this.#label} ${bar} ${rate}/s`));
  }
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
