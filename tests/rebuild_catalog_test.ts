/**
 * Rebuilding the container catalog from the archive bucket, against
 * PostgreSQL and the S3 server: containers written with `DesWriter` become
 * committed rows equal to what the objects say, with one GET per container;
 * a second run changes nothing and reads nothing; corrupt objects are
 * reported with typed errors while the rest is rebuilt; disagreeing rows are
 * reported and left alone. End to end, a packed archive whose catalog is
 * wiped is rebuilt to the packer's rows, and the packer then finishes the
 * parent update of a container the catalog lost before it was recorded.
 */

import { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import {
  committedContainersForShards,
  type ContainerRow,
  getContainer,
  listContainers,
} from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import { ensureShards, listShards } from "../db/shards.ts";
import { type ContainerSummary, DesWriter } from "../format/writer.ts";
import { bigFilePrefixOf, containerKey } from "../pack/layout.ts";
import { Packer } from "../pack/packer.ts";
import { isContainerKey, rebuildCatalog, type RebuildOutcome } from "../pack/rebuild_catalog.ts";
import { REBUILD_OWNER } from "../pack/rebuild_rows.ts";
import { rebuiltContainerOf } from "../pack/rebuild_entry.ts";
import { DesReader } from "../format/reader.ts";
import { MemoryObjectStore } from "../store/memory.ts";
import { type ObjectStore, readAll, RequestCounter } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import type { S3ObjectStore } from "../store/s3.ts";
import { DesConflictError, DesFormatError } from "../core/errors.ts";
import { rebuildCatalogCommand } from "../cli/commands/rebuild_catalog.ts";
import { NameSource, TEST_NAME_FORMAT } from "./_helpers/archive_fixture.ts";
import { assert, assertEquals, assertThrows } from "./_helpers/assert.ts";
import {
  auditArchive,
  createPackWorld,
  parentStates,
  worldPackerOptions,
} from "./_helpers/pack_world.ts";
import { createTestDatabase, type TestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";

const SHARD_BITS = TEST_NAME_FORMAT.shardBits;
const SHARDS = 2 ** SHARD_BITS;
const names = new NameSource();
const serviceTest = { ignore: s3TestIgnore(), sanitizeResources: false, sanitizeOps: false };

/** A container written to the store under the packer's layout. */
interface Written {
  key: string;
  summary: ContainerSummary;
  shard: number;
  source: string;
  contentBytes: number;
}

function randomId(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function writeContainer(
  store: ObjectStore,
  options: { shard: number; source: string; files: number; bigFile?: boolean; key?: string },
): Promise<Written> {
  const containerId = randomId();
  const key = options.key ?? containerKey(options.source, options.shard, SHARD_BITS, containerId);
  const writer = await DesWriter.create(await store.createWriter(key), {
    shard: options.shard,
    source: options.source,
    containerId,
    bigFileThreshold: 2048,
    bigFiles: { store, prefix: bigFilePrefixOf(key) },
  });
  let contentBytes = 0;
  for (const [i, name] of names.manyInShard(options.shard, options.files).entries()) {
    const size = options.bigFile && i === 0 ? 5000 : 100 + i;
    await writer.add(name, new Uint8Array(size).fill(i), { contentType: "text/plain" });
    contentBytes += size;
  }
  const summary = await writer.finish();
  return { key, summary, shard: options.shard, source: options.source, contentBytes };
}

/** The row the rebuild must produce for `w`. */
async function expectedRow(
  store: ObjectStore,
  bucket: string,
  w: Written,
): Promise<ReturnType<typeof rowFacts>> {
  const info = await store.head(w.key);
  return {
    containerId: w.summary.containerId,
    shard: w.shard,
    source: w.source,
    bucket,
    key: w.key,
    size: w.summary.size,
    fileCount: w.summary.entryCount,
    dataBytes: w.contentBytes,
    firstName: w.summary.firstName ?? null,
    lastName: w.summary.lastName ?? null,
    indexCrc32c: w.summary.indexCrc32c,
    footerCrc32c: w.summary.footerCrc32c,
    etag: info!.etag,
    state: "committed" as const,
    owner: REBUILD_OWNER,
  };
}

function rowFacts(row: ContainerRow) {
  return {
    containerId: row.containerId,
    shard: row.shard,
    source: row.source,
    bucket: row.bucket,
    key: row.key,
    size: row.size,
    fileCount: row.fileCount,
    dataBytes: row.dataBytes,
    firstName: row.firstName,
    lastName: row.lastName,
    indexCrc32c: row.indexCrc32c,
    footerCrc32c: row.footerCrc32c,
    etag: row.etag,
    state: row.state,
    owner: row.owner,
  };
}

async function withServices(
  prefix: string,
  fn: (db: Db, store: S3ObjectStore, counter: RequestCounter, meta: TestDatabase) => Promise<void>,
): Promise<void> {
  const counter = new RequestCounter();
  const meta = await createTestDatabase({ migrate: true });
  try {
    const store = await testS3Store(prefix, { onRequest: counter.hook });
    try {
      await ensureShards(meta.db, SHARD_BITS);
      await fn(meta.db, store, counter, meta);
    } finally {
      await removeTestS3Store(store);
    }
  } finally {
    await meta.drop();
  }
}

Deno.test({
  name:
    "rebuild-catalog: committed rows from the bucket alone, one GET each; a re-run reads nothing",
  ...serviceTest,
  async fn() {
    await withServices("rebuild-basic", async (db, store, counter) => {
      const written = [
        await writeContainer(store, { shard: 1, source: "scans", files: 5 }),
        await writeContainer(store, { shard: 2, source: "scans", files: 3, bigFile: true }),
        await writeContainer(store, { shard: 2, source: "mail", files: 4 }),
      ];
      await store.put("notes/readme.txt", new TextEncoder().encode("not a container"));
      counter.reset();

      const report = await rebuildCatalog({
        db,
        store,
        bucketName: store.bucket,
        shardCount: SHARDS,
      });
      assertEquals(report.listed, 3);
      assertEquals(report.ignored, 2, "the big file and the foreign object are not looked at");
      assertEquals(report.added, 3);
      assertEquals([report.invalid, report.unreadable, report.mismatched], [[], [], []]);
      assertEquals(counter.count("get"), 3, "one suffix read per container");
      assertEquals(counter.count("head"), 0);

      for (const w of written) {
        const row = await getContainer(db, w.summary.containerId);
        assert(row, `row of ${w.key}`);
        assertEquals(rowFacts(row), await expectedRow(store, store.bucket, w));
        const opened = await DesReader.open(new StoreRangeSource(store, w.key));
        assertEquals(row.committedAt?.getTime(), opened.descriptor.createdAt);
      }
      const visible = await committedContainersForShards(db, 0, SHARDS - 1);
      assertEquals(visible.map((c) => c.key).sort(), written.map((w) => w.key).sort());
      const shard2 = (await listShards(db, { rangeStart: 2, rangeEnd: 2 }))[0];
      assertEquals(shard2.packedContainers, 2);
      assertEquals(shard2.packedFiles, 7);

      counter.reset();
      const again = await rebuildCatalog({ db, store, bucketName: store.bucket });
      assertEquals([again.added, again.unchanged, again.mismatched.length], [0, 3, 0]);
      assertEquals(counter.count("get"), 0, "matching rows are settled from the listing");
      assertEquals((await listContainers(db)).length, 3);
    });
  },
});

Deno.test({
  name: "rebuild-catalog: corrupt objects are reported with typed errors, the others rebuilt",
  ...serviceTest,
  async fn() {
    await withServices("rebuild-corrupt", async (db, store) => {
      const good = [
        await writeContainer(store, { shard: 3, source: "scans", files: 4 }),
        await writeContainer(store, { shard: 4, source: "scans", files: 2 }),
      ];
      const flipped = await writeContainer(store, { shard: 5, source: "scans", files: 3 });
      const bytes = await readAll((await store.get(flipped.key)).body);
      bytes[bytes.byteLength - flipped.summary.tailLength + 2] ^= 0xff; // inside META
      await store.put(flipped.key, bytes);
      const garbage = containerKey("scans", 6, SHARD_BITS, randomId());
      await store.put(garbage, crypto.getRandomValues(new Uint8Array(3000)));
      const empty = containerKey("scans", 6, SHARD_BITS, randomId());
      await store.put(empty, new Uint8Array(0));
      const liar = containerKey("scans", 7, SHARD_BITS, randomId());
      await store.put(liar, await readAll((await store.get(good[0].key)).body));

      const copy = "scans/zz/copy.des"; // outside the layout, after the original in key order
      await store.put(copy, await readAll((await store.get(good[1].key)).body));

      const dry = await rebuildCatalog({ db, store, bucketName: store.bucket, dryRun: true });
      assertEquals([dry.added, dry.invalid.length], [2, 4]);
      assertEquals(dry.mismatched.map((m) => [m.key, m.differences]), [
        [copy, [{ field: "key", catalog: good[1].key, bucket: copy }]],
      ]);

      const seen: RebuildOutcome[] = [];
      const report = await rebuildCatalog({
        db,
        store,
        bucketName: store.bucket,
        onOutcome: (o) => seen.push(o),
      });
      assertEquals(seen.length, 7);
      assertEquals(report.added, 2);
      assertEquals(
        report.mismatched.map((m) => [m.key, m.differences]),
        dry.mismatched.map((m) => [m.key, m.differences]),
      );
      const invalid = new Map(report.invalid.map((o) => [o.key, o.error]));
      assertEquals([...invalid.keys()].sort(), [flipped.key, garbage, empty, liar].sort());
      assertEquals(invalid.get(flipped.key)!.code, "format.checksum-mismatch");
      assertEquals(invalid.get(garbage)!.code, "format.malformed");
      assert(invalid.get(liar) instanceof DesConflictError, "key and descriptor disagree");
      assertEquals(invalid.get(liar)!.context.field, "container id");
      const rows = await listContainers(db);
      assertEquals(rows.map((r) => r.key).sort(), good.map((w) => w.key).sort());
    });
  },
});

Deno.test({
  name:
    "rebuild-catalog: dry run writes nothing; disagreeing and unfinished rows are reported, not changed",
  ...serviceTest,
  async fn() {
    await withServices("rebuild-mismatch", async (db, store) => {
      const a = await writeContainer(store, { shard: 8, source: "scans", files: 3 });
      const b = await writeContainer(store, { shard: 9, source: "scans", files: 3 });
      const c = await writeContainer(store, { shard: 9, source: "mail", files: 2 });

      const dry = await rebuildCatalog({ db, store, bucketName: store.bucket, dryRun: true });
      assertEquals([dry.dryRun, dry.added, dry.addedFiles], [true, 3, 8]);
      assertEquals((await listContainers(db)).length, 0);

      await rebuildCatalog({ db, store, bucketName: store.bucket });
      await db.query(
        "update des_containers set size = size + 1, etag = 'stale' where container_id = $1",
        [a.summary.containerId],
      );
      await db.query(
        "update des_containers set state = 'building', committed_at = null where container_id = $1",
        [b.summary.containerId],
      );
      await db.query("update des_containers set key = 'elsewhere.des' where container_id = $1", [
        c.summary.containerId,
      ]);
      const before = await listContainers(db);

      const report = await rebuildCatalog({ db, store, bucketName: store.bucket });
      assertEquals(report.added, 0);
      const byKey = new Map(report.mismatched.map((m) => [m.key, m]));
      assertEquals(
        byKey.get(a.key)?.differences.map((d) => d.field).sort(),
        ["etag", "size"],
      );
      assertEquals(byKey.get(c.key)?.differences.map((d) => d.field), ["key"]);
      assertEquals(report.unfinished.map((u) => [u.key, u.state]), [[b.key, "building"]]);
      assertEquals(await listContainers(db), before, "nothing was changed");
    });
  },
});

Deno.test({
  name:
    "rebuild-catalog: des rebuild-catalog --dry-run, then a real run; exit 1 when an object is bad",
  ...serviceTest,
  async fn() {
    await withServices("rebuild-cli", async (db, store, _counter, meta) => {
      await writeContainer(store, { shard: 10, source: "scans", files: 2 });
      await writeContainer(store, { shard: 11, source: "scans", files: 2 });
      const env = new Map(Object.entries({
        ...withTestS3Env(),
        DES_DATABASE_URL: meta.url,
        DES_ARCHIVE_BUCKET: store.bucket,
        DES_SHARD_BITS: String(SHARD_BITS),
      }));
      assertEquals(await rebuildCatalogCommand(["--dry-run"], env), 0);
      assertEquals((await listContainers(db)).length, 0);
      assertEquals(await rebuildCatalogCommand(["--prefix", "scans/"], env), 0);
      assertEquals((await listContainers(db)).length, 2);
      await store.put(containerKey("scans", 12, SHARD_BITS, randomId()), new Uint8Array(500));
      assertEquals(await rebuildCatalogCommand(["--json"], env), 1);
      assertEquals((await listContainers(db)).length, 2);
    });
  },
});

Deno.test({
  name: "rebuild-catalog: a packed archive with its catalog wiped is rebuilt to the packer's rows",
  ...serviceTest,
  async fn() {
    const world = await createPackWorld({ fsRows: 60 });
    try {
      await world.markAll();
      const opened = await world.openSources();
      const options = worldPackerOptions(world, opened, {
        maxContainerFiles: 6,
        bigFileThreshold: 1900,
        logger: new Logger("packer", { level: "error" }),
      });
      try {
        assertEquals((await new Packer(options).runOnce()).errors, []);
        const packed = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        assert(packed.length >= 10, `expected many containers, got ${packed.length}`);

        // The catalog is lost while one container's parent rows are not yet recorded.
        const lost = packed[0];
        const source = world.sources.get(lost.source)!;
        const statuses = source.fixture.source.statuses;
        const location = `${world.archive.url}/${lost.key}`;
        const reset = await source.fixture.db.query(
          `update ${source.fixture.table} set state = $1, archive_container = null
           where archive_container = $2 returning 1`,
          [statuses.marked, location],
        );
        assertEquals(reset.length, lost.fileCount);
        await world.meta.db.query("delete from des_containers");

        const report = await rebuildCatalog({
          db: world.meta.db,
          store: world.archive,
          bucketName: world.archive.bucket,
          shardCount: 2 ** world.shardBits,
        });
        assertEquals(report.added, packed.length);
        assertEquals([report.invalid, report.mismatched], [[], []]);
        const rebuilt = new Map(
          (await listContainers(world.meta.db)).map((r) => [r.containerId, rowFacts(r)]),
        );
        for (const row of packed) {
          assertEquals(rebuilt.get(row.containerId), {
            ...rowFacts(row),
            state: "committed",
            owner: REBUILD_OWNER,
          });
        }

        // The packer's recovery records the parent rows of every rebuilt container; nothing is packed twice.
        const after = await new Packer(options).runOnce();
        assertEquals([after.errors, after.containers], [[], 0]);
        const states = await parentStates(source);
        assertEquals(states.filter((p) => p.container === location).length, lost.fileCount);
        await auditArchive(world, { final: true, deleteSources: false, contents: false });
      } finally {
        await opened.close();
      }
    } finally {
      await world.close();
    }
  },
});

Deno.test("rebuild-catalog: key and descriptor are checked against each other", async () => {
  const store = new MemoryObjectStore();
  const w = await writeContainer(store, { shard: 3, source: "scans", files: 2 });
  const info = (await store.head(w.key))!;
  const reader = await DesReader.open(new StoreRangeSource(store, w.key));
  const entry = rebuiltContainerOf(reader, info, { bucket: "b", shardCount: SHARDS });
  assertEquals([entry.shard, entry.source, entry.fileCount], [3, "scans", 2]);

  const moved = { ...info, key: containerKey("scans", 4, SHARD_BITS, w.summary.containerId) };
  const conflict = assertThrows(
    () => rebuiltContainerOf(reader, moved, { bucket: "b" }),
    DesConflictError,
  );
  assertEquals(conflict.context.field, "shard");
  assertThrows(
    () => rebuiltContainerOf(reader, info, { bucket: "b", shardCount: 2 }),
    DesFormatError,
    "outside",
  );
  assertThrows(
    () => rebuiltContainerOf(reader, { ...info, size: info.size + 1 }, { bucket: "b" }),
    DesConflictError,
    "changed size",
  );

  const bare = await DesWriter.create(await store.createWriter("loose/x.des"));
  await bare.add("a", new Uint8Array(3));
  await bare.finish();
  const bareReader = await DesReader.open(new StoreRangeSource(store, "loose/x.des"));
  const bareInfo = (await store.head("loose/x.des"))!;
  assertThrows(
    () => rebuiltContainerOf(bareReader, bareInfo, { bucket: "b" }),
    DesFormatError,
    "no shard or source",
  );

  assert(isContainerKey("scans/03/abc.des"));
  assert(!isContainerKey("scans/03/_bigFiles/abc/n.des"));
  assert(!isContainerKey("_bigFiles/abc/n.des"));
  assert(!isContainerKey("scans/03/abc.des.part"));
});
