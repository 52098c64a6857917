/**
 * Where a `DesWriter` puts container bytes. A store's object writer
 * satisfies it structurally, and so does `FileSink`.
 *
 * @module
 */

/** An append-only destination for container bytes. */
export interface ContainerSink {
  /** Append bytes; resolves when they have been accepted. The sink may keep `chunk`. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * True when the sink no longer refers to a chunk once its `write` has
   * resolved (it was written out), so the caller may reuse its buffer.
   */
  readonly releasesChunks?: boolean;
  /** Finish: make the container visible. */
  close(): Promise<unknown>;
  /** Abandon: nothing becomes visible. */
  abort(): Promise<void>;
}
