/**
 * The disk tier of the byte cache: whole hot files, one cache file each,
 * under `DES_CACHE_DIR`, bounded by `DES_CACHE_DISK_BYTES` (least recently
 * used out first). A cache file is named by its group (the container id,
 * the key's first segment) and the SHA-256 of its key, which holds the
 * container id and ETag, so a replaced container never matches an old file
 * and every file of a retired container can be deleted ({@linkcode
 * DiskCache.dropGroup}). Every read is checked against the file's size and CRC-32C from
 * the container index: a damaged cache file is deleted and reported, never
 * served. Writes go to a temp file renamed into place, off the request path;
 * files left by an earlier run are adopted (they are checked like any other
 * on their first read).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "../core/log.ts";
import { crc32c } from "../format/checksum.ts";
import { LruCache } from "./lru.ts";

const ENTRY_FILE = /^(?:[0-9a-f]{1,64}|_)\.[0-9a-f]{64}\.bin$/;
/** Cache files of the earlier naming (hash only): deleted at open, their group is unknown. */
const OLD_ENTRY_FILE = /^[0-9a-f]{64}\.bin$/;
const TEMP_SUFFIX = ".tmp";

/** What a cached file must be: its size and CRC-32C from the container index. */
export interface ExpectedBytes {
  /** Size in bytes. */
  size: number;
  /** CRC-32C of the whole file. */
  crc32c: number;
}

/** Result of {@linkcode DiskCache.get}. */
export type DiskRead =
  | { kind: "hit"; bytes: Uint8Array }
  | { kind: "miss" }
  | { kind: "corrupt" };

/** Options of {@linkcode DiskCache.open}. */
export interface DiskCacheOptions {
  /** Directory of the cache files (created when missing). */
  dir: string;
  /** Most bytes of cache files kept. */
  maxBytes: number;
  /** Called once per file evicted by the size bound. */
  onEvict?: (bytes: number) => void;
  /** Logger for failed background writes and removals. */
  log?: Logger;
}

/** Whole files on local disk, checked on every read. */
export class DiskCache {
  /** The cache directory. */
  readonly dir: string;
  readonly #index: LruCache<string, number>;
  readonly #pending = new Set<Promise<void>>();
  /** Groups dropped: their files are not written again. */
  readonly #dropped = new Set<string>();
  readonly #log?: Logger;

  private constructor(options: DiskCacheOptions) {
    this.dir = options.dir;
    this.#log = options.log;
    this.#index = new LruCache<string, number>({
      maxEntries: Number.MAX_SAFE_INTEGER,
      maxWeight: options.maxBytes,
      weigh: (size) => size,
      onEvict: (file, size) => {
        options.onEvict?.(size);
        this.#background(Deno.remove(this.#path(file)), "remove");
      },
    });
  }

  /** Open (create) the directory and adopt the cache files an earlier run left there. */
  static async open(options: DiskCacheOptions): Promise<DiskCache> {
    const cache = new DiskCache(options);
    await Deno.mkdir(options.dir, { recursive: true });
    const found: { file: string; size: number; mtime: number }[] = [];
    for await (const entry of Deno.readDir(options.dir)) {
      if (!entry.isFile) continue;
      const path = join(options.dir, entry.name);
      if (entry.name.endsWith(TEMP_SUFFIX) || OLD_ENTRY_FILE.test(entry.name)) {
        await Deno.remove(path).catch(() => {});
      } else if (ENTRY_FILE.test(entry.name)) {
        const stat = await Deno.stat(path).catch(() => null);
        if (stat) {
          found.push({ file: entry.name, size: stat.size, mtime: stat.mtime?.getTime() ?? 0 });
        }
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) cache.#index.set(f.file, f.size);
    return cache;
  }

  /** Bytes of cache files held. */
  get bytes(): number {
    return this.#index.weight;
  }

  /** Cache files held. */
  get entries(): number {
    return this.#index.size;
  }

  /** The bytes cached under `key`, checked against `expect`; a damaged file is deleted. */
  async get(key: string, expect: ExpectedBytes): Promise<DiskRead> {
    const file = fileOf(key);
    if (this.#index.get(file) === undefined) return { kind: "miss" };
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.#path(file));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        this.#log?.warn("byte cache file unreadable; dropped", { file, error });
      }
      this.#index.delete(file);
      return { kind: "miss" };
    }
    if (bytes.byteLength !== expect.size || crc32c(bytes) !== expect.crc32c) {
      this.#index.delete(file);
      this.#log?.warn("byte cache file damaged; dropped and read from the store again", {
        file,
        size: bytes.byteLength,
        expected: expect.size,
      });
      this.#background(Deno.remove(this.#path(file)), "remove");
      return { kind: "corrupt" };
    }
    return { kind: "hit", bytes };
  }

  /**
   * Delete every cache file of `group` (a container id) and refuse new ones:
   * once it resolves, no byte of that container is left on local disk.
   */
  async dropGroup(group: string): Promise<number> {
    this.#dropped.add(group);
    if (this.#dropped.size > 100_000) this.#dropped.delete(this.#dropped.values().next().value!);
    await this.flush();
    const prefix = `${groupOf(group)}.`;
    let removed = 0;
    for (const file of this.#index.keys()) {
      if (!file.startsWith(prefix)) continue;
      this.#index.delete(file);
      await Deno.remove(this.#path(file)).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
      removed++;
    }
    return removed;
  }

  /** Store `bytes` under `key` in the background (temp file, then rename). */
  put(key: string, bytes: Uint8Array): void {
    const file = fileOf(key);
    if (this.#index.has(file) || this.#dropped.has(key.split("\u0000", 1)[0])) return;
    const path = this.#path(file);
    const temp = `${path}.${crypto.randomUUID().slice(0, 8)}${TEMP_SUFFIX}`;
    const write = (async () => {
      try {
        await Deno.writeFile(temp, bytes);
        await Deno.rename(temp, path);
      } catch (error) {
        await Deno.remove(temp).catch(() => {});
        throw error;
      }
      this.#index.set(file, bytes.byteLength);
    })();
    this.#background(write, "write");
  }

  /** Remove the file cached under `key`, if any (in the background). */
  delete(key: string): void {
    const file = fileOf(key);
    if (this.#index.delete(file)) this.#background(Deno.remove(this.#path(file)), "remove");
  }

  /** Whether a file is cached under `key`. */
  has(key: string): boolean {
    return this.#index.has(fileOf(key));
  }

  /** Wait for background writes and removals. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #path(file: string): string {
    return join(this.dir, file);
  }

  #background(work: Promise<unknown>, what: string): void {
    const done = work.then(
      () => {},
      (error) => {
        if (!(error instanceof Deno.errors.NotFound)) {
          this.#log?.warn(`byte cache ${what} failed`, { dir: this.dir, error });
        }
      },
    );
    this.#pending.add(done);
    done.finally(() => this.#pending.delete(done));
  }
}

/**
 * The cache file name of a key: its group (the first `\0`-separated
 * segment when it is lowercase hex, else `_`) and the SHA-256 hex of the
 * key, so any key maps to a safe name and a group's files can be found.
 */
export function fileOf(key: string): string {
  return `${groupOf(key.split("\u0000", 1)[0])}.${
    createHash("sha256").update(key).digest("hex")
  }.bin`;
}

function groupOf(segment: string): string {
  return /^[0-9a-f]{1,64}$/.test(segment) ? segment : "_";
}
