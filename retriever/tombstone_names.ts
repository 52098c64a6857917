/**
 * Deleted names on the read path: the {@linkcode NameSetSource} of the
 * tombstones of a retriever's shards (`des_tombstones`, announced on
 * `NOTIFY des_tombstone` within a second of the delete). A tombstoned name
 * answers 410 Gone before any cache or store is asked.
 *
 * @module
 */

import { getTombstone, TOMBSTONE_CHANNEL, tombstonedNames } from "../db/tombstones.ts";
import type { NameSetSource } from "./watched_names.ts";

/** The set source of tombstoned names. */
export const TOMBSTONE_NAMES: NameSetSource = {
  what: "tombstones",
  channel: TOMBSTONE_CHANNEL,
  load: tombstonedNames,
  contains: async (db, name) => (await getTombstone(db, name)) !== null,
};
