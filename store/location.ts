/**
 * Parse a user-given location of one object — `s3://bucket/key`, a local
 * path, or a `file://` URL — into a store and a key.
 *
 * @module
 */

import { DesInputError } from "../core/errors.ts";
import { type ObjectLocation, parseLocalLocation } from "./local_location.ts";
import { type EnvReader, S3ObjectStore } from "./s3.ts";

export type { ObjectLocation } from "./local_location.ts";

/**
 * `s3://bucket/key` → an {@linkcode S3ObjectStore} for the bucket configured
 * from `DES_S3_*` (see `S3ObjectStore.fromEnv`); a path or `file://` URL → a
 * filesystem store rooted at the file's directory, key = file name (see
 * `parseLocalLocation`).
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
  return parseLocalLocation(location);
}
