/**
 * Removal of everything an unfinished container may have left behind: the
 * container object, its big files, incomplete multipart uploads and the
 * local files in the workdir. Every step tolerates things already gone.
 *
 * Uploads go first. A packer killed right after it sent
 * CompleteMultipartUpload leaves an upload that the S3 server may still
 * complete: deleted before that, the object would come back under an
 * aborted container. So pending uploads are aborted, then the objects are
 * deleted, and a round that found an upload pending is followed by another
 * after a pause, until a round finds neither uploads nor objects (a
 * completion that landed meanwhile is deleted by that later round).
 *
 * @module
 */

import { join } from "node:path";
import { DesUnavailableError } from "../core/errors.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { PackContext } from "./pack_context.ts";
import { bigFileFolderOf } from "./layout.ts";

/** Rounds of abort-then-delete before giving up (recovery then tries again later). */
const MAX_ROUNDS = 10;
/** Pause after a round that aborted an upload, for a racing completion to land. */
const SETTLE_MS = 500;

/** Delete the objects, uploads and local files of a container that will not be committed. */
export async function removeContainerObjects(
  ctx: Pick<PackContext, "store" | "workdir">,
  record: { containerId: string; key: string },
): Promise<void> {
  const { store } = ctx;
  const prefixes = [record.key, bigFileFolderOf(record.key, record.containerId)];
  for (let round = 1;; round++) {
    const aborted = await abortUploads(store, prefixes);
    const deleted = await deleteObjects(store, record.key, prefixes[1]);
    // Done when nothing was pending, or when, after a round that aborted an
    // upload, a whole round finds neither an upload nor an object.
    if (aborted === 0 && (round === 1 || deleted === 0)) break;
    if (round >= MAX_ROUNDS) {
      throw new DesUnavailableError(
        `objects or uploads of container ${record.containerId} keep reappearing under ${record.key}`,
        { containerId: record.containerId, key: record.key, rounds: round },
      );
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  }
  await removeLocalFiles(ctx.workdir, record.containerId);
}

async function abortUploads(store: ObjectStore, prefixes: string[]): Promise<number> {
  let aborted = 0;
  for (const prefix of prefixes) {
    for await (const upload of store.listIncompleteUploads(prefix)) {
      await store.abortIncompleteUpload(upload);
      aborted++;
    }
  }
  return aborted;
}

/** Delete the container object and its big files; returns how many existed. */
async function deleteObjects(store: ObjectStore, key: string, bigFolder: string): Promise<number> {
  let existed = 0;
  if (await store.head(key)) existed++;
  await store.delete(key);
  for await (const big of store.list(bigFolder)) {
    await store.delete(big.key);
    existed++;
  }
  return existed;
}

/** The workdir path of a container being built. */
export function localContainerPath(workdir: string, containerId: string): string {
  return join(workdir, `${containerId}.des`);
}

/** Delete the workdir files of a container (the file and any partial writes of it). */
export async function removeLocalFiles(workdir: string, containerId: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(workdir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries) {
    if (entry.isFile && entry.name.startsWith(`${containerId}.des`)) {
      await Deno.remove(join(workdir, entry.name)).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
  }
}
