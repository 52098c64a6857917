/**
 * A complete packing setup for packer tests: a migrated DES metadata
 * database, an archive bucket on the test S3 server, parent sources built by
 * the parent fixture (one with originals on the filesystem, optionally one
 * with originals in S3) whose eligible rows are marked by the Marker, one
 * `sources.yaml` naming all of them, and an audit of the archive against the
 * parents.
 *
 * @module
 */

import { Logger } from "../../core/log.ts";
import { DesReader } from "../../format/reader.ts";
import { Marker } from "../../mark/marker.ts";
import { NameGenerator } from "../../naming/name_generator.ts";
import { loadSources, type SourceConfig } from "../../parent/sources.ts";
import { type OpenedSources, openPackSources } from "../../pack/pack_sources.ts";
import type { PackerOptions } from "../../pack/packer.ts";
import { VISIBLE_STATES } from "../../db/container_states.ts";
import type { ContainerRow } from "../../db/containers.ts";
import { listContainers } from "../../db/containers.ts";
import { StoreRangeSource } from "../../store/range_source.ts";
import type { S3ObjectStore } from "../../store/s3.ts";
import { createParentFixture, type FixtureRow, type ParentFixture } from "./parent_fixture.ts";
import { createTestDatabase, type TestDatabase } from "./pg.ts";
import { removeTestS3Store, testS3Store, withTestS3Env } from "./s3.ts";

/** Options of {@linkcode createPackWorld}. */
export interface PackWorldOptions {
  /** Rows of the source with filesystem originals. */
  fsRows: number;
  /** Rows of the source with S3 originals (0 = no such source). */
  s3Rows?: number;
  /** `DES_SHARD_BITS` of the names (default 4). */
  shardBits?: number;
  /** Size of row `i`'s original (default: the fixture's 64..2063 bytes). */
  size?: (i: number) => number;
  /** Every row eligible: old enough and not held (default: the fixture's mix). */
  allEligible?: boolean;
  /** Content of a row's original (default: the fixture's); must be deterministic. */
  content?: (id: string, size: number) => Uint8Array;
}

/** A parent source of the world. */
export interface WorldSource {
  /** Source name in sources.yaml. */
  name: string;
  /** The fixture behind it. */
  fixture: ParentFixture;
  /** Rows by id. */
  rowsById: Map<string, FixtureRow>;
}

/** The setup. */
export interface PackWorld {
  /** DES metadata database. */
  meta: TestDatabase;
  /** Archive bucket. */
  archive: S3ObjectStore;
  /** Bucket holding the S3 originals, when there is such a source. */
  originalsStore?: S3ObjectStore;
  /** Sources by name. */
  sources: Map<string, WorldSource>;
  /** The combined sources.yaml. */
  sourcesPath: string;
  /** Validated configurations of the sources. */
  sourceConfigs: SourceConfig[];
  /** Shard bits. */
  shardBits: number;
  /** Directory for workdirs and files of the test. */
  dir: string;
  /** Environment for a packer child process (DSNs, S3, database, bucket). */
  env: Record<string, string>;
  /** Open the sources for an in-process packer (close them after). */
  openSources(): Promise<OpenedSources>;
  /** Mark every eligible row of every source with the Marker; returns rows marked. */
  markAll(): Promise<number>;
  /** Tear everything down. */
  close(): Promise<void>;
}

/**
 * Packer options for the whole shard range of `world` over `opened` sources,
 * with `extra` settings (limits, observers) on top.
 */
export function worldPackerOptions(
  world: PackWorld,
  opened: OpenedSources,
  extra: Partial<PackerOptions> = {},
): PackerOptions {
  return {
    db: world.meta.db,
    sources: [...opened.byName.values()],
    store: world.archive,
    shardBits: world.shardBits,
    workdir: `${world.dir}/work`,
    rangeStart: 0,
    rangeEnd: 2 ** world.shardBits - 1,
    ...extra,
  };
}

/** Build the world; close it with `world.close()`. */
export async function createPackWorld(options: PackWorldOptions): Promise<PackWorld> {
  const shardBits = options.shardBits ?? 4;
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const dir = await Deno.makeTempDir({ prefix: "des-pack-world-" });
    cleanups.push(() => Deno.remove(dir, { recursive: true }));
    const meta = await createTestDatabase({ migrate: true });
    cleanups.push(() => meta.drop());
    const archive = await testS3Store("pack-archive");
    cleanups.push(() => removeTestS3Store(archive));
    const sources = new Map<string, WorldSource>();
    const eligibility = options.allEligible ? { ageDays: () => 100, onHold: () => false } : {};
    const fsFixture = await createParentFixture({
      rows: options.fsRows,
      size: options.size,
      content: options.content,
      ...eligibility,
    });
    cleanups.push(() => fsFixture.close());
    sources.set("docs-fs", { name: "docs-fs", fixture: fsFixture, rowsById: byId(fsFixture) });
    let originalsStore: S3ObjectStore | undefined;
    if (options.s3Rows) {
      originalsStore = await testS3Store("pack-originals");
      const store = originalsStore;
      cleanups.push(() => removeTestS3Store(store));
      const s3Fixture = await createParentFixture({
        rows: options.s3Rows,
        size: options.size,
        ...eligibility,
        originals: { store, bucket: store.bucket, prefix: "orig" },
      });
      cleanups.push(() => s3Fixture.close());
      sources.set("docs-s3", { name: "docs-s3", fixture: s3Fixture, rowsById: byId(s3Fixture) });
    }
    const sourcesPath = `${dir}/sources.yaml`;
    await Deno.writeTextFile(sourcesPath, await combinedYaml(sources));
    const env: Record<string, string> = {
      ...withTestS3Env(),
      DES_DATABASE_URL: meta.url,
      DES_ARCHIVE_BUCKET: archive.bucket,
      DES_SHARD_BITS: String(shardBits),
      DES_LOG_LEVEL: "warn",
    };
    for (const s of sources.values()) env[s.fixture.dsnEnv] = s.fixture.url;
    const envMap = new Map(Object.entries(env));
    const sourceConfigs = await loadSources(sourcesPath, envMap);
    const stores = new Map(originalsStore ? [[originalsStore.bucket, originalsStore]] : []);
    const openSources = () => openPackSources(sourceConfigs, { originalStores: stores });
    const markAll = async () => {
      const names = new NameGenerator({ nodeId: 1, shardBits, prefix: "" });
      const opened = await openSources();
      try {
        let marked = 0;
        for (const source of opened.byName.values()) {
          const logger = new Logger("marker", { level: "error" });
          marked += (await new Marker({ table: source.table, names, logger }).runOnce()).marked;
        }
        return marked;
      } finally {
        await opened.close();
      }
    };
    return {
      meta,
      archive,
      originalsStore,
      sources,
      sourcesPath,
      sourceConfigs,
      shardBits,
      dir,
      env,
      openSources,
      markAll,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function byId(fixture: ParentFixture): Map<string, FixtureRow> {
  return new Map(fixture.rows.map((r) => [r.id, r]));
}

async function combinedYaml(sources: Map<string, WorldSource>): Promise<string> {
  let out = "sources:\n";
  for (const s of sources.values()) {
    const text = await Deno.readTextFile(s.fixture.sourcesPath);
    const list = text.slice(text.indexOf("sources:\n") + "sources:\n".length);
    out += list.replace("name: fixture-docs", `name: ${s.name}`);
  }
  return out;
}

/** A parent row as the audit reads it. */
export interface ParentState {
  /** Row id. */
  id: string;
  /** Status value. */
  status: string;
  /** DES name. */
  name: string | null;
  /** Container location. */
  container: string | null;
  /** Failure note. */
  error: string | null;
}

/** Every row of a source's parent table. */
export async function parentStates(source: WorldSource): Promise<ParentState[]> {
  return await source.fixture.db.query<ParentState>(
    `select doc_id::text as id, state as status, archive_name as name,
       archive_container as container, failure_note as error
     from ${source.fixture.table} order by doc_id`,
  );
}

/** What {@linkcode auditArchive} found. */
export interface ArchiveAudit {
  /** Visible containers. */
  containers: ContainerRow[];
  /** Files in visible containers. */
  files: number;
  /** Parent rows packed. */
  packedRows: number;
  /** Parent rows failed. */
  failedRows: number;
}

/** A file of a visible container, as the audit listed it. */
export interface ListedFile {
  /** DES name. */
  name: string;
  /** Parent row id from the file's meta. */
  parentId: string;
  /** Original location from the file's meta. */
  location: string;
}

/** Options of {@linkcode auditArchive}. */
export interface AuditOptions {
  /** Require the end state: every eligible row packed or failed, every container finished. */
  final: boolean;
  /** Whether originals are deleted (the last state containers reach). */
  deleteSources: boolean;
  /** Compare every file with its original (default true). */
  contents?: boolean;
  /** File lists of containers already listed (containers never change once visible). */
  listings?: Map<string, ListedFile[]>;
}

/**
 * Check the archive against the parents and throw on the first violation:
 * no name in two visible containers; every file tied to the right parent row
 * and (unless `contents` is false) byte-identical to its original; every
 * packed parent row points at the visible container holding its name; every
 * row of a container past `committed` is packed; with `final`, every
 * eligible row is packed or failed and every container finished its pipeline.
 */
export async function auditArchive(
  world: PackWorld,
  options: AuditOptions,
): Promise<ArchiveAudit> {
  const containers = await listContainers(world.meta.db, { states: VISIBLE_STATES });
  const holder = new Map<string, ContainerRow>();
  let files = 0;
  for (const c of containers) {
    const source = world.sources.get(c.source) ?? fail(`container ${c.key}: unknown source`);
    for (const file of await listFiles(world, source, c, options)) {
      const other = holder.get(file.name);
      if (other) fail(`${file.name} is in ${other.key} and ${c.key}`);
      holder.set(file.name, c);
      const row = source.rowsById.get(file.parentId) ??
        fail(`${file.name} in ${c.key} names no parent row`);
      if (file.location !== row.location) fail(`${file.name}: wrong original location`);
      files++;
    }
  }
  let packedRows = 0;
  let failedRows = 0;
  for (const source of world.sources.values()) {
    const statuses = source.fixture.source.statuses;
    for (const p of await parentStates(source)) {
      const c = p.name ? holder.get(p.name) : undefined;
      if (p.status === statuses.packed) {
        packedRows++;
        if (!c) fail(`row ${p.id} is packed but ${p.name} is in no visible container`);
        if (p.container !== `${world.archive.url}/${c.key}`) {
          fail(`row ${p.id} points at ${p.container}, its file is in ${c.key}`);
        }
      } else if (p.status === statuses.failed) {
        failedRows++;
      }
      if (c && c.state !== "committed" && p.status !== statuses.packed) {
        fail(`row ${p.id} is ${p.status} though container ${c.key} is ${c.state}`);
      }
      if (options.final && source.fixture.eligibleIds.has(p.id)) {
        if (p.status !== statuses.packed && p.status !== statuses.failed) {
          fail(`eligible row ${p.id} ended ${p.status}`);
        }
      }
    }
  }
  if (options.final) {
    const end = options.deleteSources ? "sources_released" : "parent_updated";
    for (const c of containers) {
      if (c.state !== end) fail(`container ${c.key} ended in ${c.state}, expected ${end}`);
    }
  }
  return { containers, files, packedRows, failedRows };
}

/**
 * End every live shard lease now: what waiting until a killed worker's
 * leases run out does, without the wait. Call it only when no holder is
 * alive (it would lose its shards at its next fenced write).
 */
export async function expireLeases(world: PackWorld): Promise<void> {
  await world.meta.db.query(
    "update des_shards set lease_expires_at = now() where lease_expires_at > now()",
  );
}

/** Keys in the archive bucket. */
export async function archiveKeys(world: PackWorld): Promise<string[]> {
  return (await Array.fromAsync(world.archive.list(""))).map((o) => o.key);
}

async function listFiles(
  world: PackWorld,
  source: WorldSource,
  c: ContainerRow,
  options: AuditOptions,
): Promise<ListedFile[]> {
  const cached = options.listings?.get(c.containerId);
  if (cached && options.contents === false) return cached;
  const reader = await DesReader.open(new StoreRangeSource(world.archive, c.key), {
    bigFiles: world.archive,
  });
  if (reader.entryCount !== c.fileCount) fail(`container ${c.key} file count differs`);
  const files: ListedFile[] = [];
  for (const entry of reader.entries()) {
    const meta = reader.meta(entry);
    const file = {
      name: entry.name,
      parentId: meta.attrs?.parentId ?? "",
      location: meta.originalLocation ?? "",
    };
    if (options.contents !== false) {
      const row = source.rowsById.get(file.parentId);
      const bytes = await reader.readFile(entry);
      if (!row || !equalBytes(bytes, source.fixture.contentOf(row))) {
        fail(`${entry.name} (row ${file.parentId}) differs from its original`);
      }
    }
    files.push(file);
  }
  options.listings?.set(c.containerId, files);
  return files;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function fail(message: string): never {
  throw new Error(`archive audit: ${message}`);
}
