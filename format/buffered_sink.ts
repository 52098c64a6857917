/**
 * Coalesces many small writes (headers, tiny files) into large chunks before
 * they reach a {@linkcode ContainerSink}, so a container of 100,000 small
 * files is a few hundred sink writes, not 100,000.
 *
 * @module
 */

import type { ContainerSink } from "./sink.ts";

/** Default size of the chunks handed to the sink. */
export const DEFAULT_SINK_CHUNK = 1024 * 1024;

/**
 * A write buffer in front of a sink. Chunks handed on are reused only when
 * the sink says it releases them ({@linkcode ContainerSink.releasesChunks}).
 */
export class BufferedSink {
  readonly #sink: ContainerSink;
  readonly #chunkSize: number;
  #buffer: Uint8Array;
  #filled = 0;

  /** @param sink the destination @param chunkSize bytes per sink write */
  constructor(sink: ContainerSink, chunkSize: number = DEFAULT_SINK_CHUNK) {
    this.#sink = sink;
    this.#chunkSize = chunkSize;
    this.#buffer = new Uint8Array(chunkSize);
  }

  /**
   * Append bytes. Chunks of `chunkSize` or more pass straight through after
   * the buffer (the sink may keep them); shorter ones are copied, so the
   * caller may reuse their buffer once this resolves.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength === 0) return;
    if (bytes.byteLength >= this.#chunkSize) { // a whole chunk already: no copy
      await this.flush();
      await this.#sink.write(bytes);
      return;
    }
    if (this.#filled + bytes.byteLength <= this.#chunkSize) {
      this.#buffer.set(bytes, this.#filled);
      this.#filled += bytes.byteLength;
      if (this.#filled === this.#chunkSize) await this.flush();
      return;
    }
    await this.flush();
    this.#buffer.set(bytes, 0);
    this.#filled = bytes.byteLength;
  }

  /** Hand buffered bytes to the sink. */
  async flush(): Promise<void> {
    if (this.#filled === 0) return;
    const chunk = this.#buffer.subarray(0, this.#filled);
    // A fresh buffer is a megabyte of new pages; reuse the one written out when allowed.
    if (!this.#sink.releasesChunks) this.#buffer = new Uint8Array(this.#chunkSize);
    this.#filled = 0;
    await this.#sink.write(chunk);
  }

  /** Flush and close the sink. */
  async close(): Promise<unknown> {
    await this.flush();
    return await this.#sink.close();
  }

  /** Drop buffered bytes and abort the sink. */
  async abort(): Promise<void> {
    this.#filled = 0;
    await this.#sink.abort();
  }
}
