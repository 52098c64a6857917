/**
 * Damaged files on the read path: the {@linkcode NameSetSource} of names a
 * retriever must not serve (a copy is recorded damaged or lost by the
 * scrubber), and the problem answered for them instead of bytes. When a
 * file is repaired, the container holding the good copy is loaded into the
 * catalog before the name is served again, so the first read after the
 * repair already finds the good copy.
 *
 * @module
 */

import { DesError } from "../core/errors.ts";
import { DAMAGED_FILE_CODE } from "../core/read_path.ts";
import { FILE_DAMAGED_CHANNEL, isUnserved, unservedNames } from "../db/damaged_files.ts";
import type { NameSetSource } from "./watched_names.ts";

/**
 * The set source of damaged names; `loadContainer` loads a container into
 * the retriever's catalog (the repaired copy's, before the name is served).
 */
export function damagedNamesSource(
  loadContainer: (containerId: string) => Promise<void>,
): NameSetSource {
  return {
    what: "damaged files",
    channel: FILE_DAMAGED_CHANNEL,
    load: unservedNames,
    contains: isUnserved,
    beforeChange: async (event) => {
      if (typeof event.repairedContainerId === "string") {
        await loadContainer(event.repairedContainerId);
      }
    },
  };
}

/**
 * The error answered for a damaged name: 502, like a read whose bytes fail
 * their checksum, so every read of the name answers the same way whatever
 * its range and whichever cache holds it.
 */
export function damagedFileError(name: string): DesError {
  return new DesError(
    `file ${name} is damaged in storage and is not served until it is repaired`,
    { code: DAMAGED_FILE_CODE, status: 502, context: { name } },
  );
}
