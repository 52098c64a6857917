/**
 * Web Worker of `des pack-dir`: answers each `ReadRequest` with a
 * `ReadBatch` (see `pack_dir_read.ts`), transferring its buffers back (the
 * names stay with the pool, which sent them), in the order the requests came.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { readBatch, type ReadRequest, transferables } from "./pack_dir_read.ts";

self.onmessage = (event: MessageEvent<ReadRequest>) => {
  const batch = readBatch(event.data);
  batch.names = [];
  self.postMessage(batch, transferables(batch));
};
