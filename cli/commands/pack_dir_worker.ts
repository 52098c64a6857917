/**
 * Web Worker of `des pack-dir`: answers each `ReadRequest` with a
 * `ReadBatch` (see `pack_dir_read.ts`), transferring its buffers back, in
 * the order the requests came.
 *
 * The reader module is imported dynamically: its checksum module finishes
 * loading with a top-level await, and a message that arrives before
 * `onmessage` is set would be lost, so the handler is installed first.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { ReadRequest } from "./pack_dir_read.ts";

const reader = import("./pack_dir_read.ts");

self.onmessage = async (event: MessageEvent<ReadRequest>) => {
  const { readBatch, transferables } = await reader;
  const batch = readBatch(event.data);
  self.postMessage(batch, transferables(batch));
};
