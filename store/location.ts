/**
 * Parse a user-given location of one object — `s3://bucket/key`, a local
 * path, or a `file://` URL — into a store and a key.
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DesInputError } from "../core/errors.ts";
import { FsObjectStore } from "./fs.ts";
import type { ObjectStore } from "./object_store.ts";
import { type EnvReader, S3ObjectStore } from "./s3.ts";

/** An object's store and its key in that store. */
export interface ObjectLocation {
  /** The store holding the object. */
  store: ObjectStore;
  /** The key of the object in `store`. */
  key: string;
}

/**
 * `s3://bucket/key` → an {@linkcode S3ObjectStore} for the bucket configured
 * from `DES_S3_*` (see `S3ObjectStore.fromEnv`); a path or `file://` URL → an
 * {@linkcode FsObjectStore} rooted at the file's directory, key = file name.
 * Throws `DesInputError` for an empty or malformed location.
 */
export function parseLocation(location: string, env: EnvReader = Deno.env): ObjectLocation {
  if (location.trim() === "") throw new DesInputError("empty location", { location });
  if (location.startsWith("s3://")) {
    const rest = location.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? "" : rest.slice(slash + 1);
    if (bucket === "" || key === "") {
      throw new DesInputError(`location ${location} must look like s3://BUCKET/KEY`, { location });
    }
    return { store: S3ObjectStore.fromEnv(bucket, env), key };
  }
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
