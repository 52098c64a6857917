/**
 * Parse a local object location — a path or a `file://` URL — into a
 * filesystem store rooted at the file's directory and the file name as key.
 * Kept apart from `location.ts` so that tools writing local files do not
 * load the S3 client.
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DesInputError } from "../core/errors.ts";
import { FsObjectStore } from "./fs.ts";
import type { ObjectStore } from "./object_store.ts";

/** An object's store and its key in that store. */
export interface ObjectLocation {
  /** The store holding the object. */
  store: ObjectStore;
  /** The key of the object in `store`. */
  key: string;
}

/**
 * A path or `file://` URL → an {@linkcode FsObjectStore} rooted at the
 * file's directory, key = file name. Throws `DesInputError` for an empty
 * location, a directory, or any other URL scheme (`s3://` included: see
 * `parseLocation`).
 */
export function parseLocalLocation(location: string): ObjectLocation {
  if (location.trim() === "") throw new DesInputError("empty location", { location });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith("file://")) {
    throw new DesInputError(`unsupported location ${location} (use s3://, file:// or a path)`, {
      location,
    });
  }
  let path: string;
  try {
    path = resolve(location.startsWith("file://") ? fileURLToPath(location) : location);
  } catch (error) {
    throw new DesInputError(`bad file location ${location}: ${error}`, { location });
  }
  const key = basename(path);
  if (key === "" || location.endsWith("/")) {
    throw new DesInputError(`location ${location} names a directory, not a file`, { location });
  }
  return { store: new FsObjectStore(dirname(path)), key };
}
