/**
 * Lifecycle test helpers: random file payloads (so a payload's bytes can be
 * searched for without false matches), deletes through the delete path, the
 * live files of the visible containers, and the proof-of-erasure scan of
 * every object in a bucket (containers and `_bigFiles/`) or every file in a
 * directory, and the consistency of parents, catalog and bucket after a
 * compaction.
 *
 * @module
 */

import { VISIBLE_STATES } from "../../db/container_states.ts";
import { listContainers } from "../../db/containers.ts";
import type { Db } from "../../db/db.ts";
import { deleteName } from "../../lifecycle/delete_name.ts";
import { DesReader } from "../../format/reader.ts";
import { parseName } from "../../naming/mod.ts";
import { type ObjectStore, readAll } from "../../store/object_store.ts";
import { StoreRangeSource } from "../../store/range_source.ts";
import { parseArchiveKey } from "../../pack/layout.ts";
import { Logger } from "../../core/log.ts";
import { Retriever } from "../../retriever/retriever.ts";
import { assert, assertEquals } from "./assert.ts";
import {
  archiveKeys,
  type PackWorld,
  parentStates,
  worldPackerOptions,
  type WorldSource,
} from "./pack_world.ts";
import { Packer, type PackerOptions } from "../../pack/packer.ts";

const payloads = new Map<string, Uint8Array>();

/** Random bytes for a row, the same on every call (a content function for the parent fixture). */
export function randomContent(id: string, size: number): Uint8Array {
  const key = `${id}:${size}`;
  let bytes = payloads.get(key);
  if (!bytes) {
    bytes = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
    }
    payloads.set(key, bytes);
  }
  return bytes;
}

/** A file of a visible container. */
export interface VisibleFile {
  /** Container id. */
  containerId: string;
  /** Stored size. */
  size: number;
}

/** Every file of the visible containers: name → container and size (throws on a duplicate). */
export async function visibleFiles(db: Db, store: ObjectStore): Promise<Map<string, VisibleFile>> {
  const files = new Map<string, VisibleFile>();
  for (const c of await listContainers(db, { states: VISIBLE_STATES })) {
    const reader = await DesReader.open(new StoreRangeSource(store, c.key), { bigFiles: store });
    for (const entry of reader.entries()) {
      const other = files.get(entry.name);
      if (other) {
        throw new Error(`${entry.name} is in ${other.containerId} and ${c.containerId}`);
      }
      files.set(entry.name, { containerId: c.containerId, size: entry.size });
    }
  }
  return files;
}

/** Delete `names` through the one delete path (tombstone, dead bytes, big files at once). */
export async function deleteNames(
  db: Db,
  store: ObjectStore,
  shardBits: number,
  names: readonly string[],
): Promise<void> {
  for (const name of names) {
    const outcome = await deleteName({ db, storeFor: () => store }, {
      name,
      shard: parseName(name, { shardBits, prefix: "" }).shard,
      origin: "api",
      actor: "test",
      notStored: "unknown",
    });
    if (outcome.kind !== "deleted") throw new Error(`delete of ${name}: ${outcome.kind}`);
  }
}

/** Where a deleted payload was found. */
export interface ErasureFinding {
  /** Object key or file path. */
  where: string;
  /** Name of the deleted file whose bytes it holds. */
  name: string;
}

/**
 * Proof of erasure: every object of `store` (containers and big files) is
 * read whole and searched for three 32-byte windows (start, middle, end) of
 * each payload; returns where any was found.
 */
export async function scanStoreFor(
  store: ObjectStore,
  deleted: Map<string, Uint8Array>,
): Promise<ErasureFinding[]> {
  const found: ErasureFinding[] = [];
  for await (const object of store.list("")) {
    const bytes = await readAll((await store.get(object.key)).body);
    found.push(...search(object.key, bytes, deleted));
  }
  return found;
}

/** The same search over every file under `dir` (a disk cache), recursively. */
export async function scanDirFor(
  dir: string,
  deleted: Map<string, Uint8Array>,
): Promise<ErasureFinding[]> {
  const found: ErasureFinding[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await scanDirFor(path, deleted));
    else if (entry.isFile) {
      // A file renamed or removed meanwhile (a cache write finishing) is read under its new name.
      const bytes = await Deno.readFile(path).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return new Uint8Array(0);
        throw error;
      });
      found.push(...search(path, bytes, deleted));
    }
  }
  return found;
}

function search(
  where: string,
  haystack: Uint8Array,
  deleted: Map<string, Uint8Array>,
): ErasureFinding[] {
  const found: ErasureFinding[] = [];
  for (const [name, payload] of deleted) {
    const w = Math.min(32, payload.byteLength);
    if (w === 0) continue;
    const starts = [0, Math.floor((payload.byteLength - w) / 2), payload.byteLength - w];
    if (starts.some((s) => indexOf(haystack, payload.subarray(s, s + w)) >= 0)) {
      found.push({ where, name });
    }
  }
  return found;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  for (let at = haystack.indexOf(first); at >= 0; at = haystack.indexOf(first, at + 1)) {
    if (at + needle.byteLength > haystack.byteLength) return -1;
    let i = 1;
    while (i < needle.byteLength && haystack[at + i] === needle[i]) i++;
    if (i === needle.byteLength) return at;
  }
  return -1;
}

/**
 * After compactions or merges: every parent row of `source` whose file is
 * among `holders` (the visible files) points at the container holding it,
 * and every object in the archive belongs to a visible or retired container.
 */
export async function assertArchiveConsistent(
  world: PackWorld,
  source: WorldSource,
  holders: Map<string, VisibleFile>,
): Promise<void> {
  const kept = await listContainers(world.meta.db, { states: [...VISIBLE_STATES, "retired"] });
  const keyOf = new Map(kept.map((c) => [c.containerId, c.key]));
  for (const p of await parentStates(source)) {
    const holder = holders.get(p.name!);
    if (holder) {
      assertEquals(p.container, `${world.archive.url}/${keyOf.get(holder.containerId)}`);
    }
  }
  for (const key of await archiveKeys(world)) {
    const parsed = parseArchiveKey(key);
    assert(parsed && keyOf.has(parsed.containerId), `object ${key} of no live container`);
  }
}

/** A retriever over every shard of `world`'s archive, its catalog loaded once (no polling). */
export function worldRetriever(world: PackWorld): Promise<Retriever> {
  return Retriever.start({
    id: "check",
    range: { start: 0, end: 2 ** world.shardBits - 1 },
    nameFormat: { shardBits: world.shardBits, prefix: "" },
    db: world.meta.db,
    storeFor: () => world.archive,
    readinessBucket: world.archive.bucket,
    catalogRefreshMs: 0,
    log: new Logger("retriever", { level: "error" }),
  });
}

/**
 * Mark every eligible row of `world` and pack it in-process (no packer
 * errors allowed). The packer stays usable (its context drives compactors)
 * until `close`, which closes the opened sources.
 */
export async function packWorld(
  world: PackWorld,
  options: Partial<PackerOptions>,
): Promise<{ packer: Packer; close: () => Promise<void> }> {
  await world.markAll();
  const opened = await world.openSources();
  const packer = new Packer(worldPackerOptions(world, opened, {
    logger: new Logger("packer", { level: "error" }),
    ...options,
  }));
  const result = await packer.runOnce();
  if (result.errors.length > 0) {
    await opened.close();
    throw new Error(`packing the test world failed: ${JSON.stringify(result.errors)}`);
  }
  return { packer, close: () => opened.close() };
}

/** The original bytes of every named row of `source`, by DES name. */
export async function contentByName(source: WorldSource): Promise<Map<string, Uint8Array>> {
  const contentOf = new Map<string, Uint8Array>();
  for (const p of await parentStates(source)) {
    if (p.name) contentOf.set(p.name, source.fixture.contentOf(source.rowsById.get(p.id)!));
  }
  return contentOf;
}

/** Every name of `names` answers 410 Gone through `retriever`. */
export async function assertGone(retriever: Retriever, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const res = await retriever.handle(new Request(`http://des/files/${name}`));
    await res.body?.cancel();
    assertEquals(res.status, 410, `${name} is readable`);
  }
}
