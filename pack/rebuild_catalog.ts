/**
 * Disaster recovery of the container catalog from the archive store alone.
 * Every `*.des` object under a prefix is listed; an object whose catalog row
 * already matches its key, size and ETag costs nothing more, every other one
 * is opened with one suffix read and its self-description becomes a
 * `des_containers` row in state `committed`. Rows that disagree with the
 * bucket are reported, never changed; objects that are not valid containers
 * are reported with their typed error. Re-running changes nothing.
 *
 * @module
 */

import { DesChecksumError, DesError, DesFormatError, DesUnavailableError } from "../core/errors.ts";
import { type ContainerState, VISIBLE_STATES } from "../db/container_states.ts";
import type { Db } from "../db/db.ts";
import { BIG_FILES_FOLDER } from "../format/constants.ts";
import { DesReader } from "../format/reader.ts";
import type { ListedObject, ObjectStore } from "../store/object_store.ts";
import { DesRangeNotSatisfiableError } from "../store/range.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { fetchAhead } from "./bounded_concurrency.ts";
import { CONTAINER_SUFFIX } from "./layout.ts";
import {
  type CatalogRowView,
  differencesOf,
  type FieldDifference,
  type RebuiltContainer,
  rebuiltContainerOf,
} from "./rebuild_entry.ts";
import { insertRebuilt, rowsAtKeys, rowsClaiming } from "./rebuild_rows.ts";

/** Options of {@linkcode rebuildCatalog}. */
export interface RebuildCatalogOptions {
  /** The metadata database (migrated). */
  db: Db;
  /** The archive store. */
  store: ObjectStore;
  /** Bucket name recorded in the rows (`DES_ARCHIVE_BUCKET`). */
  bucketName: string;
  /** Only objects whose key starts with this (default: all). */
  prefix?: string;
  /** Report what would be added, write nothing. */
  dryRun?: boolean;
  /** Objects opened at once (default 8). */
  concurrency?: number;
  /** Shards of the archive (`2^DES_SHARD_BITS`); containers outside are invalid. */
  shardCount?: number;
  /** Size of the suffix read that opens a container (default: the reader's). */
  suffixBytes?: number;
  /** Called once per container object, in listing order. */
  onOutcome?: (outcome: RebuildOutcome) => void;
}

/** What happened to one container object. */
export type RebuildOutcome =
  | { kind: "added"; key: string; container: RebuiltContainer }
  | { kind: "unchanged"; key: string; containerId: string }
  | { kind: "unfinished"; key: string; containerId: string; state: ContainerState }
  | { kind: "mismatch"; key: string; containerId: string; differences: FieldDifference[] }
  | { kind: "invalid"; key: string; error: DesError }
  | { kind: "unreadable"; key: string; error: DesError };

/** The summary of a rebuild. */
export interface RebuildReport {
  /** Nothing was written. */
  dryRun: boolean;
  /** Container objects (`*.des`, outside `_bigFiles/`) listed. */
  listed: number;
  /** Other objects under the prefix (big files, foreign keys), not looked at. */
  ignored: number;
  /** Rows added (would be added, in a dry run). */
  added: number;
  /** Files in the added containers. */
  addedFiles: number;
  /** Container bytes of the added containers. */
  addedBytes: number;
  /** Objects whose row already matches. */
  unchanged: number;
  /** Objects whose row is still being written by a packer (its recovery finishes it). */
  unfinished: Extract<RebuildOutcome, { kind: "unfinished" }>[];
  /** Objects whose row disagrees with the object (left as they are). */
  mismatched: Extract<RebuildOutcome, { kind: "mismatch" }>[];
  /** Objects that are not valid, catalogable containers. */
  invalid: Extract<RebuildOutcome, { kind: "invalid" }>[];
  /** Objects that could not be read (gone since listing, store errors). */
  unreadable: Extract<RebuildOutcome, { kind: "unreadable" }>[];
}

const LOOKUP_BATCH = 500;

/** Whether a listed key is a container object (not a big file, not a foreign object). */
export function isContainerKey(key: string): boolean {
  return key.endsWith(CONTAINER_SUFFIX) && !`/${key}`.includes(`/${BIG_FILES_FOLDER}/`);
}

/**
 * Rebuild the catalog rows of every container in `store` under `prefix`.
 * Per-object problems are reported in the result; only a failing listing
 * or database throws.
 */
export async function rebuildCatalog(options: RebuildCatalogOptions): Promise<RebuildReport> {
  const run = new RebuildRun(options);
  const batch: ListedObject[] = [];
  for await (const object of options.store.list(options.prefix ?? "")) {
    if (!isContainerKey(object.key)) {
      run.report.ignored++;
      continue;
    }
    run.report.listed++;
    batch.push(object);
    if (batch.length >= LOOKUP_BATCH) await run.process(batch.splice(0));
  }
  await run.process(batch);
  return run.report;
}

/** One rebuild: its options, its report, and (in a dry run) the rows it would have added. */
class RebuildRun {
  readonly report: RebuildReport;
  readonly #o: RebuildCatalogOptions;
  readonly #wouldAdd = new Map<string, RebuiltContainer>();

  constructor(options: RebuildCatalogOptions) {
    this.#o = options;
    this.report = {
      dryRun: options.dryRun ?? false,
      listed: 0,
      ignored: 0,
      added: 0,
      addedFiles: 0,
      addedBytes: 0,
      unchanged: 0,
      unfinished: [],
      mismatched: [],
      invalid: [],
      unreadable: [],
    };
  }

  /**
   * Settle a batch: rows at the listed keys from one query; every object
   * without a matching row opened (bounded concurrency), the rows claiming
   * the opened containers from one query, the new ones inserted together.
   */
  async process(objects: ListedObject[]): Promise<void> {
    const { db, bucketName } = this.#o;
    const atKeys = await rowsAtKeys(db, bucketName, objects.map((o) => o.key));
    const outcomes = new Map<string, RebuildOutcome>();
    const toOpen: ListedObject[] = [];
    for (const object of objects) {
      const known = quickOutcome(object, atKeys.get(object.key));
      if (known) outcomes.set(object.key, known);
      else toOpen.push(object);
    }
    const entries: RebuiltContainer[] = [];
    const opened = fetchAhead(toOpen, (object) => this.#open(object), this.#o.concurrency ?? 8);
    for await (const result of opened) {
      const key = result.item.key;
      if (!result.ok) {
        outcomes.set(key, failureOf(result.error, key));
        continue;
      }
      try {
        entries.push(rebuiltContainerOf(result.value, result.item, {
          bucket: bucketName,
          shardCount: this.#o.shardCount,
        }));
      } catch (error) {
        outcomes.set(key, { kind: "invalid", key, error: asDesError(error, key) });
      }
    }
    let claims = await rowsClaiming(db, bucketName, entries);
    const unclaimed = entries.filter((e) => claimsOf(claims, e).length === 0);
    const added = this.report.dryRun
      ? this.#dryRunAdd(unclaimed)
      : await insertRebuilt(db, unclaimed);
    if (!this.report.dryRun && added.size < unclaimed.length) {
      claims = await rowsClaiming(db, bucketName, entries); // lost races, or copies in the batch
    }
    for (const entry of entries) {
      outcomes.set(
        entry.key,
        added.get(entry.containerId) === entry.key
          ? { kind: "added", key: entry.key, container: entry }
          : judgeAgainstRows(entry, [...claimsOf(claims, entry), ...this.#earlierCopies(entry)]),
      );
    }
    for (const object of objects) this.#record(outcomes.get(object.key)!);
  }

  /** Open a container with one suffix read (pinned to the listed version). */
  #open(object: ListedObject): Promise<DesReader> {
    const source = new StoreRangeSource(this.#o.store, object.key, {
      etag: object.etag || undefined,
      size: object.size,
    });
    return DesReader.open(source, { suffixBytes: this.#o.suffixBytes });
  }

  /** In a dry run: the entries that would be inserted (the first object of each id). */
  #dryRunAdd(entries: RebuiltContainer[]): Map<string, string> {
    const added = new Map<string, string>();
    for (const entry of entries) {
      if (this.#wouldAdd.has(entry.containerId)) continue;
      this.#wouldAdd.set(entry.containerId, entry);
      added.set(entry.containerId, entry.key);
    }
    return added;
  }

  /** In a dry run, the row an earlier object of the same id would have added. */
  #earlierCopies(entry: RebuiltContainer): CatalogRowView[] {
    const earlier = this.#wouldAdd.get(entry.containerId);
    return earlier && earlier.key !== entry.key ? [{ ...earlier, state: "committed" }] : [];
  }

  #record(outcome: RebuildOutcome): void {
    const r = this.report;
    switch (outcome.kind) {
      case "added":
        r.added++;
        r.addedFiles += outcome.container.fileCount;
        r.addedBytes += outcome.container.size;
        break;
      case "unchanged":
        r.unchanged++;
        break;
      case "unfinished":
        r.unfinished.push(outcome);
        break;
      case "mismatch":
        r.mismatched.push(outcome);
        break;
      case "invalid":
        r.invalid.push(outcome);
        break;
      case "unreadable":
        r.unreadable.push(outcome);
        break;
    }
    this.#o.onOutcome?.(outcome);
  }
}

function isVisible(state: ContainerState): boolean {
  return VISIBLE_STATES.includes(state);
}

/** The outcome decided from the listing and the row at the key alone, or undefined to open it. */
function quickOutcome(
  object: ListedObject,
  row: CatalogRowView | undefined,
): RebuildOutcome | undefined {
  if (!row) return undefined;
  const { key } = object;
  if (row.state === "aborted") {
    return {
      kind: "mismatch",
      key,
      containerId: row.containerId,
      differences: [{ field: "state", catalog: "aborted", bucket: "object present" }],
    };
  }
  if (!isVisible(row.state)) {
    return { kind: "unfinished", key, containerId: row.containerId, state: row.state };
  }
  if (row.etag && row.etag === object.etag && Number(row.size) === object.size) {
    return { kind: "unchanged", key, containerId: row.containerId };
  }
  return undefined;
}

/** The rows claiming `entry`'s container id or its object. */
function claimsOf(rows: CatalogRowView[], entry: RebuiltContainer): CatalogRowView[] {
  return rows.filter((r) =>
    r.containerId === entry.containerId || (r.bucket === entry.bucket && r.key === entry.key)
  );
}

/** Compare an opened container with every row that claims its id or its object. */
function judgeAgainstRows(entry: RebuiltContainer, rows: CatalogRowView[]): RebuildOutcome {
  const { key, containerId } = entry;
  const own = rows.find((r) => r.containerId === containerId);
  if (own && !isVisible(own.state) && own.state !== "aborted") {
    return { kind: "unfinished", key, containerId, state: own.state };
  }
  const differences = rows.flatMap((row) => differencesOf(row, entry));
  if (own?.state === "aborted") {
    differences.push({ field: "state", catalog: "aborted", bucket: "object present" });
  }
  return differences.length === 0
    ? { kind: "unchanged", key, containerId }
    : { kind: "mismatch", key, containerId, differences };
}

/** An object that did not open: invalid when its bytes are bad, unreadable when the store failed. */
function failureOf(error: unknown, key: string): RebuildOutcome {
  const desError = asDesError(error, key);
  return isBadBytes(desError)
    ? { kind: "invalid", key, error: desError }
    : { kind: "unreadable", key, error: desError };
}

/** DES errors pass through; anything else becomes `DesUnavailableError`. */
function asDesError(error: unknown, key: string): DesError {
  if (error instanceof DesError) return error;
  return new DesUnavailableError(`could not read ${key}: ${(error as Error)?.message ?? error}`, {
    key,
  }, error);
}

/** Whether an open failure says the bytes are bad (as opposed to the store failing). */
function isBadBytes(error: DesError): boolean {
  return error instanceof DesFormatError || error instanceof DesChecksumError ||
    error instanceof DesRangeNotSatisfiableError;
}
