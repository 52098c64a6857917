/**
 * The retriever's persistent index cache in Deno KV: the raw tail bytes of
 * a container (footer, index and meta), so that a restarted retriever opens
 * its containers without touching S3.
 *
 * KV values are at most 64 KiB and one atomic commit at most 1000 mutations
 * and about 800 KiB, so a tail is split into chunks written in batches under
 * a fresh write id, and the manifest that names the write id, the length and
 * a CRC-32 of the bytes is written LAST. A torn write therefore leaves only
 * unreferenced chunks, never a usable entry, and a manifest whose chunks do
 * not add up is treated as a miss and removed. Keys carry the object's key,
 * ETag and size, so a tail is never paired with another version of the object.
 *
 * With `maxBytes`, each stored tail also gets a small size record (written in
 * the manifest's commit); when the recorded total passes the bound, the
 * oldest tails are deleted until it is back under 90 % of it. Tails written
 * before size records existed are not counted until they are rewritten.
 *
 * @module
 */

import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { DesUnavailableError } from "../core/errors.ts";

/** Bytes per KV value (below the 65 536-byte serialized limit). */
export const CHUNK_BYTES = 60 * 1024;
/** Chunks per atomic commit (stays under ~800 KiB per commit). */
export const CHUNKS_PER_COMMIT = 12;
const ROOT = "des-tail-v1";
const LATEST = "des-tail-latest-v1";
const SIZES = "des-tail-size-v1";

interface SizeRecord {
  length: number;
  storedAt: number;
}

/** Which version of which object a tail belongs to. */
export interface TailKey {
  /** Object key of the container. */
  key: string;
  /** Its ETag. */
  etag: string;
  /** Its size in bytes. */
  size: number;
}

interface Manifest {
  writeId: string;
  length: number;
  chunks: number;
  crc32: number;
  storedAt: number;
}

/** Options of {@linkcode TailCache}. */
export interface TailCacheOptions {
  /** Most bytes of tails kept (`DES_KV_MAX_BYTES`); 0 or omitted = no bound. */
  maxBytes?: number;
}

/** Tails of containers in a Deno KV database. */
export class TailCache {
  readonly #kv: Deno.Kv;
  readonly #maxBytes: number;
  /** Recorded bytes, once counted. */
  #stored?: number;
  #evicting?: Promise<void>;
  /** Last `storedAt` handed out: strictly increasing, so age order has no ties. */
  #clock = 0;

  /** @param kv an open KV database (the caller owns and closes it) @param options size bound */
  constructor(kv: Deno.Kv, options: TailCacheOptions = {}) {
    this.#kv = kv;
    this.#maxBytes = options.maxBytes ?? 0;
  }

  /** Open (or create) the KV file at `path` and wrap it. */
  static async open(
    path: string,
    options: TailCacheOptions = {},
  ): Promise<{ cache: TailCache; kv: Deno.Kv }> {
    await Deno.mkdir(dirname(path), { recursive: true });
    const kv = await Deno.openKv(path);
    return { cache: new TailCache(kv, options), kv };
  }

  /** Bytes of the tails with a size record. */
  async storedBytes(): Promise<number> {
    if (this.#stored === undefined) {
      let total = 0;
      for await (const e of this.#kv.list<SizeRecord>({ prefix: [SIZES] })) {
        total += e.value.length;
      }
      this.#stored = total;
    }
    return this.#stored;
  }

  /** The stored tail of this object version, or `undefined` (missing, torn or corrupt). */
  async get(id: TailKey): Promise<Uint8Array | undefined> {
    const base = baseKey(id);
    const entry = await this.#kv.get<Manifest>([...base, "manifest"]);
    const manifest = entry.value;
    if (!manifest) return undefined;
    const out = new Uint8Array(manifest.length);
    let at = 0;
    let count = 0;
    for await (const chunk of this.#kv.list<Uint8Array>({ prefix: [...base, manifest.writeId] })) {
      const bytes = chunk.value;
      if (
        !(bytes instanceof Uint8Array) || chunk.key.at(-1) !== count ||
        at + bytes.byteLength > out.byteLength
      ) {
        return this.#discard(id);
      }
      out.set(bytes, at);
      at += bytes.byteLength;
      count++;
    }
    if (count !== manifest.chunks || at !== manifest.length || crc32(out) !== manifest.crc32) {
      return this.#discard(id);
    }
    return out;
  }

  /** Store the tail of this object version, replacing an earlier one. */
  async set(id: TailKey, tail: Uint8Array): Promise<void> {
    const base = baseKey(id);
    const previous = (await this.#kv.get<Manifest>([...base, "manifest"])).value;
    const writeId = crypto.randomUUID();
    const chunks = Math.ceil(tail.byteLength / CHUNK_BYTES);
    for (let first = 0; first < chunks; first += CHUNKS_PER_COMMIT) {
      const op = this.#kv.atomic();
      for (let i = first; i < Math.min(chunks, first + CHUNKS_PER_COMMIT); i++) {
        op.set([...base, writeId, i], tail.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
      }
      await commit(op);
    }
    const manifest: Manifest = {
      writeId,
      length: tail.byteLength,
      chunks,
      crc32: crc32(tail),
      storedAt: Date.now(),
    };
    const before = this.#maxBytes > 0 ? await this.storedBytes() : 0;
    const sizeKey = [SIZES, id.key, id.etag, id.size];
    const old = this.#maxBytes > 0 ? (await this.#kv.get<SizeRecord>(sizeKey)).value : null;
    const op = this.#kv.atomic()
      .set([...base, "manifest"], manifest)
      .set([LATEST, id.key], { etag: id.etag, size: id.size });
    this.#clock = Math.max(Date.now(), this.#clock + 1);
    if (this.#maxBytes > 0) op.set(sizeKey, { length: tail.byteLength, storedAt: this.#clock });
    await commit(op);
    if (previous && previous.writeId !== writeId) await this.#deleteChunks(base, previous.writeId);
    if (this.#maxBytes > 0) {
      this.#stored = before - (old?.length ?? 0) + tail.byteLength;
      if (this.#stored > this.#maxBytes) {
        this.#evicting ??= this.#evict(id).finally(() => (this.#evicting = undefined));
        await this.#evicting;
      }
    }
  }

  /** Delete the oldest tails (never `keep`) until the total is under 90 % of the bound. */
  async #evict(keep: TailKey): Promise<void> {
    const records: { id: TailKey; length: number; storedAt: number }[] = [];
    for await (const e of this.#kv.list<SizeRecord>({ prefix: [SIZES] })) {
      const [, key, etag, size] = e.key as [string, string, string, number];
      records.push({ id: { key, etag, size }, ...e.value });
    }
    records.sort((a, b) => a.storedAt - b.storedAt);
    let total = records.reduce((sum, r) => sum + r.length, 0);
    const target = Math.floor(this.#maxBytes * 0.9);
    for (const r of records) {
      if (total <= target) break;
      if (r.id.key === keep.key && r.id.etag === keep.etag && r.id.size === keep.size) continue;
      await this.delete(r.id);
      total -= r.length;
    }
    this.#stored = total;
  }

  /**
   * The version of `key` whose tail was stored last, for a container whose
   * catalog row records no ETag. Reads must still be pinned to it (If-Match):
   * the object may have changed since.
   */
  async latest(key: string): Promise<{ etag: string; size: number } | undefined> {
    const entry = await this.#kv.get<{ etag: string; size: number }>([LATEST, key]);
    return entry.value ?? undefined;
  }

  /** Forget the tail of this object version (manifest first, then its chunks). */
  async delete(id: TailKey): Promise<void> {
    const base = baseKey(id);
    const manifest = (await this.#kv.get<Manifest>([...base, "manifest"])).value;
    const latest = await this.latest(id.key);
    const sizeKey = [SIZES, id.key, id.etag, id.size];
    const recorded = (await this.#kv.get<SizeRecord>(sizeKey)).value;
    const op = this.#kv.atomic().delete([...base, "manifest"]).delete(sizeKey);
    if (latest?.etag === id.etag && latest.size === id.size) op.delete([LATEST, id.key]);
    await commit(op);
    if (recorded && this.#stored !== undefined) this.#stored -= recorded.length;
    if (manifest) await this.#deleteChunks(base, manifest.writeId);
  }

  /** Forget every stored version of the object `key`. */
  async deleteObject(key: string): Promise<void> {
    const keys: Deno.KvKey[] = [[LATEST, key]];
    for await (const e of this.#kv.list({ prefix: [ROOT, key] })) keys.push(e.key);
    for await (const e of this.#kv.list<SizeRecord>({ prefix: [SIZES, key] })) {
      keys.push(e.key);
      if (this.#stored !== undefined) this.#stored -= e.value.length;
    }
    // Manifests first, so that no reader can pick up a half-deleted entry.
    keys.sort((a, b) => rank(a) - rank(b));
    await deleteKeys(this.#kv, keys);
  }

  async #discard(id: TailKey): Promise<undefined> {
    await this.delete(id);
    return undefined;
  }

  async #deleteChunks(base: Deno.KvKey, writeId: string): Promise<void> {
    const keys: Deno.KvKey[] = [];
    for await (const e of this.#kv.list({ prefix: [...base, writeId] })) keys.push(e.key);
    await deleteKeys(this.#kv, keys);
  }
}

/** Deletion order: pointer and size records, manifests, then chunks. */
function rank(key: Deno.KvKey): number {
  return key[0] === LATEST || key[0] === SIZES ? 0 : key.at(-1) === "manifest" ? 1 : 2;
}

function baseKey(id: TailKey): Deno.KvKey {
  return [ROOT, id.key, id.etag, id.size];
}

async function commit(op: Deno.AtomicOperation): Promise<void> {
  const result = await op.commit();
  if (!result.ok) {
    throw new DesUnavailableError("Deno KV rejected an atomic commit of the index cache");
  }
}

async function deleteKeys(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 500) {
    const op = kv.atomic();
    for (const key of keys.slice(i, i + 500)) op.delete(key);
    await commit(op);
  }
}
