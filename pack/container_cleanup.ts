/**
 * Removal of everything an unfinished container may have left behind: the
 * container object, its big files, incomplete multipart uploads and the
 * local files in the workdir. Every step tolerates things already gone.
 *
 * @module
 */

import { join } from "node:path";
import type { PackContext } from "./pack_context.ts";
import { incompleteUploadsOf } from "./incomplete_uploads.ts";
import { bigFileFolderOf } from "./layout.ts";

/** Delete the objects, uploads and local files of a container that will not be committed. */
export async function removeContainerObjects(
  ctx: Pick<PackContext, "store" | "workdir">,
  record: { containerId: string; key: string },
): Promise<void> {
  const { store } = ctx;
  await store.delete(record.key);
  for await (const big of store.list(bigFileFolderOf(record.key, record.containerId))) {
    await store.delete(big.key);
  }
  const uploads = incompleteUploadsOf(store);
  if (uploads) {
    for await (const upload of uploads.list(record.key)) await uploads.abort(upload);
    const bigFolder = bigFileFolderOf(record.key, record.containerId);
    for await (const upload of uploads.list(bigFolder)) await uploads.abort(upload);
  }
  await removeLocalFiles(ctx.workdir, record.containerId);
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
