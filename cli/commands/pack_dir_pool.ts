/**
 * {@linkcode ReaderPool}: reads the files of `des pack-dir` ahead of the
 * writer in a pool of Web Workers (lstat, read, CRC-32C and SHA-256 off the
 * main thread), a bounded number of batches in flight, answers handed out in
 * order. Where a worker cannot be started (e.g. from a single-file bundle,
 * which has no worker module beside it) the batches are read on the main
 * thread instead.
 *
 * @module
 */

import { type ReadBatch, readBatch, type ReadRequest } from "./pack_dir_read.ts";

/** Options of a {@linkcode ReaderPool}. */
export interface ReaderPoolOptions {
  /** Workers (default 0: read on the main thread, see {@linkcode DEFAULT_WORKERS}). */
  workers?: number;
  /** Files per batch (default 256). */
  batchFiles?: number;
  /** Batches in flight per worker (default 2). */
  depth?: number;
}

/** Spent buffers kept for reuse. */
const MAX_SPARE = 4;

const WORKER_URL = new URL("./pack_dir_worker.ts", import.meta.url);

/** Whether the worker module exists as a local file next to this one. */
function workerAvailable(): boolean {
  if (WORKER_URL.protocol !== "file:") return false;
  try {
    return Deno.statSync(WORKER_URL).isFile;
  } catch {
    return false;
  }
}

/**
 * Default worker count: none. A worker is another isolate (≈ 17 MiB idle,
 * ≈ 40 MiB at its peak) and costs CPU for every hand-off; it shortens the
 * run only when a core is idle, and with it 100,000 files no longer pack
 * within 128 MiB. `--readers N` turns workers on.
 */
export const DEFAULT_WORKERS = 0;

/** Reads batches of files in workers, in order. */
export class ReaderPool {
  readonly #workers: Worker[] = [];
  readonly #batchFiles: number;
  readonly #depth: number;
  readonly #spare: ArrayBuffer[] = [];

  /** @param options worker count, batch size and depth */
  constructor(options: ReaderPoolOptions = {}) {
    this.#batchFiles = Math.max(1, options.batchFiles ?? 256);
    this.#depth = Math.max(1, options.depth ?? 2);
    const count = options.workers ?? DEFAULT_WORKERS;
    if (count > 0 && workerAvailable()) {
      for (let i = 0; i < count; i++) {
        this.#workers.push(new Worker(WORKER_URL, { type: "module" }));
      }
    }
  }

  /**
   * Hand back the `data` buffer of a batch once nothing refers to it any
   * more (its bytes copied into the container's write buffer): the next
   * batch is read into it instead of a new one, so the pool's buffers are a
   * fixed few, not garbage of hundreds of KiB a batch.
   */
  recycle(buffer: ArrayBuffer): void {
    if (this.#spare.length < MAX_SPARE && buffer.byteLength > 0) this.#spare.push(buffer);
  }

  /** Number of workers (0 when batches are read on the main thread). */
  get workers(): number {
    return this.#workers.length;
  }

  /**
   * Read `names` (relative to `root`, taken from the iterable only as batches
   * are sent, so a lazy walk is never held whole) in batches and yield the
   * answers in name order. At most `workers × depth` batches are in flight:
   * a worker never reads far ahead of the writer. Stop iterating early to
   * drop what is still in flight.
   */
  async *read(root: string, names: Iterable<string>, threshold: number): AsyncGenerator<ReadBatch> {
    const source = names[Symbol.iterator]();
    let id = 0;
    const nextRequest = (): ReadRequest | undefined => {
      const batch: string[] = [];
      while (batch.length < this.#batchFiles) {
        const next = source.next();
        if (next.done) break;
        batch.push(next.value);
      }
      return batch.length === 0 ? undefined : { id: id++, root, names: batch, threshold };
    };
    if (this.#workers.length === 0) {
      for (let request = nextRequest(); request; request = nextRequest()) {
        request.buffer = this.#spare.pop();
        yield readBatch(request);
      }
      return;
    }
    const queues = this.#workers.map(() => [] as ((batch: ReadBatch) => void)[]);
    const failures: ((error: unknown) => void)[] = [];
    this.#workers.forEach((worker, w) => {
      worker.onmessage = (event: MessageEvent<ReadBatch>) => queues[w].shift()?.(event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const error = new Error(`pack-dir reader worker failed: ${event.message}`);
        for (const fail of failures.splice(0)) fail(error);
      };
    });
    const inFlight: { names: string[]; answer: Promise<ReadBatch> }[] = [];
    const send = (): boolean => {
      const request = nextRequest();
      if (!request) return false;
      const w = request.id % this.#workers.length;
      const spare = this.#spare.pop();
      if (spare) request.buffer = spare;
      const answer = new Promise<ReadBatch>((resolve, reject) => {
        queues[w].push(resolve);
        failures.push(reject);
        this.#workers[w].postMessage(request, spare ? [spare] : []);
      });
      answer.catch(() => {}); // awaited in order below; never an unhandled rejection
      inFlight.push({ names: request.names, answer });
      return true;
    };
    const depth = this.#workers.length * this.#depth;
    while (inFlight.length < depth && send());
    while (inFlight.length > 0) {
      const { names, answer } = inFlight.shift()!;
      const batch = await answer;
      batch.names = names;
      send();
      yield batch;
    }
  }

  /** Stop the workers. */
  close(): void {
    for (const worker of this.#workers.splice(0)) worker.terminate();
  }
}
