/**
 * The parent rows of a container, read back from the container itself: each
 * file's name is its DES name, and its meta record carries the parent row id
 * (`attrs.parentId`) and the original's location. Recovery uses this to
 * finish the parent update and the release of originals of a container
 * whose packer died.
 *
 * @module
 */

import { DesFormatError } from "../core/errors.ts";
import { DesReader } from "../format/reader.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import type { PackedFile } from "./container_steps.ts";

/** Meta attribute holding the parent row id. */
export const PARENT_ID_ATTR = "parentId";

/** Read the files of the container at `key` with their parent row ids and locations. */
export async function readPackedFiles(store: ObjectStore, key: string): Promise<PackedFile[]> {
  const reader = await DesReader.open(new StoreRangeSource(store, key), { bigFiles: store });
  const files: PackedFile[] = [];
  for (const entry of reader.entries()) {
    const meta = reader.meta(entry);
    const id = meta.attrs?.[PARENT_ID_ATTR];
    if (id === undefined || meta.originalLocation === undefined) {
      throw new DesFormatError(
        `file ${entry.name} of ${key} has no parent id or original location in its meta`,
        { key, name: entry.name },
      );
    }
    files.push({ id, desName: entry.name, location: meta.originalLocation });
  }
  return files;
}
