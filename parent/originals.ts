/**
 * Access to a parent source's original files, wherever they live: a
 * directory tree (`fs_root`) or an S3 bucket and prefix. The packer reads
 * originals through this, and deletes them once they are safely archived.
 *
 * @module
 */

import { posix } from "node:path";
import { DesInputError, DesNotFoundError, DesUnavailableError } from "../core/errors.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { type EnvReader, S3ObjectStore } from "../store/s3.ts";
import { readAllWithin } from "./bounded_read.ts";
import { checkLocation, checkRegularOriginal, originalError } from "./original_checks.ts";
import type { OriginalsConfig, SourceConfig } from "./sources.ts";

/** An original file read whole. */
export interface OriginalFile {
  /** The bytes. */
  body: Uint8Array;
  /** Size in bytes. */
  size: number;
  /** Last modification time, when the storage knows it. */
  mtime?: Date;
}

/** What is known about an original without reading it. */
export interface OriginalStat {
  /** Size in bytes. */
  size: number;
  /** Last modification time, when the storage knows it. */
  mtime?: Date;
}

/** Options of {@linkcode Originals.read}. */
export interface ReadOriginalOptions {
  /** Stops the read (the file or request is closed and the read rejects with the reason). */
  signal?: AbortSignal;
}

/** The original files of one source. Locations are the parent's `location` column values. */
export interface Originals {
  /** Where the originals are: `file:///root` or `s3://bucket/prefix`. */
  readonly url: string;
  /**
   * Read a whole original. Throws `DesNotFoundError` when it does not exist,
   * `DesInputError` when the location is unusable or names anything but a
   * regular file (never opened then), `DesUnavailableError` otherwise.
   */
  read(location: string, options?: ReadOriginalOptions): Promise<OriginalFile>;
  /**
   * Check that the storage itself answers (the root directory is there, the
   * bucket answers a HEAD); throws `DesUnavailableError` or `DesConfigError`.
   * Tells a failure of one original from an outage of all of them.
   */
  probe(): Promise<void>;
  /** Size and time of an original, or `null` when it does not exist. */
  stat(location: string): Promise<OriginalStat | null>;
  /** Delete an original; a missing one is not an error. */
  delete(location: string): Promise<void>;
  /** Release connections. */
  close(): void;
}

/** Options of {@linkcode openOriginals}. */
export interface OpenOriginalsOptions {
  /** Where `DES_S3_*` are read for S3 originals (default `Deno.env`). */
  env?: EnvReader;
  /** A ready store for the S3 bucket (instead of one built from `DES_S3_*`). */
  store?: ObjectStore;
}

/**
 * Open the originals of `source` (or of an `originals` configuration).
 * S3 originals use `DES_S3_ENDPOINT`, `DES_S3_REGION`, `DES_S3_ACCESS_KEY_ID`
 * and `DES_S3_SECRET_ACCESS_KEY` unless a store is given.
 */
export function openOriginals(
  source: SourceConfig | OriginalsConfig,
  options: OpenOriginalsOptions = {},
): Originals {
  const config = "originals" in source ? source.originals : source;
  if (config.kind === "fs") return new FsOriginals(config.root);
  const store = options.store ?? S3ObjectStore.fromEnv(config.bucket, options.env ?? Deno.env);
  return new S3Originals(store, config.bucket, config.prefix, options.store === undefined);
}

/** Originals under a directory; locations are paths relative to it (or absolute inside it). */
export class FsOriginals implements Originals {
  /** `file://` URL of the root. */
  readonly url: string;
  readonly #root: string;
  #realRoot?: string;

  /** @param root absolute directory */
  constructor(root: string) {
    this.#root = posix.resolve(root);
    this.url = `file://${this.#root}`;
  }

  /** The absolute path of `location`; throws `DesInputError` when it leaves the root. */
  pathOf(location: string): string {
    checkLocation(location);
    const path = posix.resolve(this.#root, location);
    const inside = this.#root === "/" ? path.length > 1 : path.startsWith(this.#root + "/");
    if (!inside) {
      throw new DesInputError(`original location ${location} is outside ${this.#root}`, {
        location,
        root: this.#root,
      });
    }
    return path;
  }

  /**
   * Read a whole regular file (symlinks must resolve inside the root). Its
   * type is checked on `lstat`/`stat` first: anything else is never opened.
   * The bytes returned are what one pass to the end of the file read, so a
   * file that changes meanwhile is still returned self-consistently.
   */
  async read(location: string, options: ReadOriginalOptions = {}): Promise<OriginalFile> {
    const path = this.pathOf(location);
    const checked = checkRegularOriginal(location, path, this.#root, this.realRoot());
    try {
      const file = await Deno.open(checked.path);
      try {
        const body = await readAllWithin(file.readable, options.signal);
        return { body, size: body.byteLength, mtime: checked.info.mtime ?? undefined };
      } catch (e) {
        try {
          file.close();
        } catch { /* already closed by the stream */ }
        throw e;
      }
    } catch (e) {
      if (options.signal?.aborted && e === options.signal.reason) throw e;
      throw originalError(e, location, checked.path);
    }
  }

  /**
   * The root with symlinks resolved (resolved once). Throws
   * `DesUnavailableError` when the root itself is missing: that is an
   * outage of every original, not a fact about one row.
   */
  realRoot(): string {
    if (this.#realRoot !== undefined) return this.#realRoot;
    try {
      return this.#realRoot = Deno.realPathSync(this.#root);
    } catch (e) {
      throw new DesUnavailableError(
        `originals root ${this.#root} is not available: ${(e as Error).message}`,
        { root: this.#root },
        e,
      );
    }
  }

  /** The root must be a directory. */
  async probe(): Promise<void> {
    const info = await Deno.stat(this.#root).catch((e) => {
      throw new DesUnavailableError(
        `originals root ${this.#root} is not available: ${(e as Error).message}`,
        { root: this.#root },
        e,
      );
    });
    if (!info.isDirectory) {
      throw new DesUnavailableError(`originals root ${this.#root} is not a directory`, {
        root: this.#root,
      });
    }
  }

  /** Size and modification time, or `null`. */
  async stat(location: string): Promise<OriginalStat | null> {
    const path = this.pathOf(location);
    try {
      const info = await Deno.stat(path);
      return { size: info.size, mtime: info.mtime ?? undefined };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw originalError(e, location, path);
    }
  }

  /** Remove a file; missing is fine. */
  async delete(location: string): Promise<void> {
    const path = this.pathOf(location);
    try {
      await Deno.remove(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw originalError(e, location, path);
    }
  }

  /** Nothing to release. */
  close(): void {}
}

/** Originals in an S3 bucket under a prefix; locations are keys relative to the prefix. */
export class S3Originals implements Originals {
  /** `s3://bucket/prefix`. */
  readonly url: string;
  readonly #store: ObjectStore;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #owned: boolean;

  /**
   * @param store store over `bucket`
   * @param bucket the bucket name (to accept `s3://bucket/…` locations)
   * @param prefix key prefix without slashes at the ends ("" for none)
   * @param owned whether {@linkcode close} closes the store
   */
  constructor(store: ObjectStore, bucket: string, prefix: string, owned = false) {
    this.#store = store;
    this.#bucket = bucket;
    this.#prefix = prefix;
    this.#owned = owned;
    this.url = `s3://${bucket}${prefix ? "/" + prefix : ""}`;
  }

  /** The object key of `location` (a relative key, or a full `s3://bucket/key` inside the prefix). */
  keyOf(location: string): string {
    checkLocation(location);
    let key = location;
    if (location.startsWith("s3://")) {
      const head = `s3://${this.#bucket}/`;
      if (!location.startsWith(head)) {
        throw new DesInputError(`original ${location} is not in bucket ${this.#bucket}`, {
          location,
        });
      }
      key = location.slice(head.length);
      if (this.#prefix && !key.startsWith(this.#prefix + "/")) {
        throw new DesInputError(`original ${location} is outside ${this.url}`, { location });
      }
      return key;
    }
    key = key.replace(/^\/+/, "");
    return this.#prefix ? `${this.#prefix}/${key}` : key;
  }

  /** One GET of the whole object. */
  async read(location: string, options: ReadOriginalOptions = {}): Promise<OriginalFile> {
    const key = this.keyOf(location);
    try {
      const { info, body } = await this.#store.get(key, { signal: options.signal });
      const bytes = await readAllWithin(body, options.signal);
      return { body: bytes, size: bytes.byteLength, mtime: info.lastModified };
    } catch (e) {
      if (e instanceof DesNotFoundError) {
        throw new DesNotFoundError(`original ${location} not found in ${this.url}`, {
          location,
          key,
        });
      }
      throw e;
    }
  }

  /** One HEAD. */
  async stat(location: string): Promise<OriginalStat | null> {
    const info = await this.#store.head(this.keyOf(location));
    return info ? { size: info.size, mtime: info.lastModified } : null;
  }

  /** One HEAD of a key that need not exist: it fails only when the bucket does not answer. */
  async probe(): Promise<void> {
    await this.#store.head(this.#prefix ? `${this.#prefix}/.des-probe` : ".des-probe");
  }

  /** One DELETE. */
  delete(location: string): Promise<void> {
    return this.#store.delete(this.keyOf(location));
  }

  /** Close the store when this object created it. */
  close(): void {
    if (this.#owned) (this.#store as { close?: () => void }).close?.();
  }
}
