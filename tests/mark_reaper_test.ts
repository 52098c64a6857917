/**
 * The parent deletion rule end to end (PostgreSQL parent and metadata DB,
 * the S3 server): rows set to the deleted status are tombstoned with the
 * container and stored size of their file (dead bytes counted), a big file
 * is deleted from the bucket and its row purged, a row never packed is
 * purged (once no packer holds its shard), a bad row moves to failed without
 * stopping the batch, and
 * a row whose bytes compaction erased is purged on the next pass.
 */

import { Logger } from "../core/log.ts";
import { getContainer } from "../db/containers.ts";
import { claimShards, releaseShard } from "../db/shards.ts";
import { getTombstone } from "../db/tombstones.ts";
import { ERASED_BIG_FILE, ERASED_NOT_STORED } from "../lifecycle/delete_name.ts";
import { Reaper } from "../mark/reaper.ts";
import { reapCommand } from "../mark/main.ts";
import { DesConfigError } from "../core/errors.ts";
import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import { createDeleteWorld, DELETE_STATUSES } from "./_helpers/delete_world.ts";
import { archiveKeys } from "./_helpers/pack_world.ts";
import { FIXTURE_STATUSES } from "./_helpers/parent_fixture.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

Deno.test({
  name: "reaper: tombstones deleted rows, erases big files, purges, dead-letters a bad row",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const w = await createDeleteWorld(12);
    try {
      const db = w.world.meta.db;
      const fixture = w.world.sources.get("docs-fs")!.fixture;
      const [small, other] = w.packedRows;
      // A row whose name is not a DES name: its delete fails, the others go on.
      const bad = w.packedRows[2];
      await fixture.db.query(
        `update ${fixture.table} set archive_name = 'not a name' where doc_id = $1`,
        [bad.id],
      );
      await w.askDelete([small.id, w.bigRow.id, w.unpackedRow.id, bad.id]);
      const bigKey = (await archiveKeys(w.world)).find((k) => k.includes("_bigFiles/"));
      assert(bigKey, "the big file is stored beside its container");

      const reaper = new Reaper({
        table: w.table,
        db,
        storeFor: () => w.world.archive,
        nameFormat: { shardBits: w.world.shardBits, prefix: "" },
        batchSize: 2,
        logger: new Logger("reaper", { level: "error" }),
      });
      // While a packer holds the shard of the row never packed, its name could still be
      // packed: it waits.
      const [lease] = await claimShards(db, {
        owner: "packer-busy",
        rangeStart: w.unpackedRow.shard,
        rangeEnd: w.unpackedRow.shard,
        leaseMs: 600_000,
      });
      assertEquals(lease.shard, w.unpackedRow.shard);
      const busy = await reaper.runOnce();
      assertEquals(
        { tombstoned: busy.tombstoned, purged: busy.purged, failed: busy.failed },
        { tombstoned: 2, purged: 1, failed: 1 },
      );
      assertEquals(busy.waiting, 2);
      assertEquals((await w.row(w.unpackedRow.id)).status, DELETE_STATUSES.deleted);
      await releaseShard(db, { owner: "packer-busy", shard: w.unpackedRow.shard });
      const first = await reaper.runOnce();
      assertEquals([first.tombstoned, first.purged, first.failed, first.waiting], [1, 1, 0, 1]);

      assertEquals((await w.row(small.id)).status, DELETE_STATUSES.deleted);
      assertEquals((await w.row(w.bigRow.id)).status, DELETE_STATUSES.purged);
      assertEquals((await w.row(w.unpackedRow.id)).status, DELETE_STATUSES.purged);
      const badRow = await w.row(bad.id);
      assertEquals(badRow.status, FIXTURE_STATUSES.failed);
      assert(badRow.error?.startsWith("delete failed:"), String(badRow.error));
      assertEquals((await w.row(other.id)).status, FIXTURE_STATUSES.packed);

      const stone = (await getTombstone(db, small.name))!;
      assertEquals(stone.origin, "parent");
      assertEquals(stone.actor, w.source.name);
      assertEquals(stone.bytes, small.size);
      assertEquals(stone.erasedAt, null);
      const holder = (await getContainer(db, stone.containerId!))!;
      const dead = await db.query<{ files: number; bytes: number }>(
        `select dead_files as files, dead_bytes::int as bytes from des_containers
         where container_id = $1`,
        [holder.containerId],
      );
      assert(dead[0].files >= 1 && dead[0].bytes >= small.size, JSON.stringify(dead[0]));

      const big = (await getTombstone(db, w.bigRow.name))!;
      assertEquals(big.erasedBy, ERASED_BIG_FILE);
      assert(big.erasedAt && big.purgedAt, "the big file's tombstone is erased and purged");
      assert(!(await archiveKeys(w.world)).includes(bigKey), "the big file object is deleted");
      const never = (await getTombstone(db, w.unpackedRow.name))!;
      assertEquals([never.containerId, never.erasedBy], [null, ERASED_NOT_STORED]);
      assertEquals(await getTombstone(db, "not a name"), null);

      // Another pass changes nothing until the bytes are erased.
      const idle = await reaper.runOnce();
      assertEquals([idle.tombstoned, idle.purged, idle.failed, idle.waiting], [0, 0, 0, 1]);

      // Any erasure (here: as compaction records it) purges the row on the next pass.
      await db.query(
        "update des_tombstones set erased_at = now(), erased_by = 'compaction' where name = $1",
        [small.name],
      );
      const after = await reaper.runOnce();
      assertEquals([after.purged, after.waiting], [1, 0]);
      assertEquals((await w.row(small.id)).status, DELETE_STATUSES.purged);
      assert((await getTombstone(db, small.name))!.purgedAt, "purged_at is recorded");
    } finally {
      await w.close();
    }
  },
});

Deno.test({
  name: "reaper: delete_where asks for deletes too; deno task reap --once runs the rule",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const w = await createDeleteWorld(6);
    try {
      const fixture = w.world.sources.get("docs-fs")!.fixture;
      const [asked, failedRow] = w.packedRows;
      await fixture.db.query(
        `update ${fixture.table} set tenant = 'erase-me' where doc_id = any($1::bigint[])`,
        [[asked.id, failedRow.id]],
      );
      // A dead-lettered row is done, whatever delete_where says.
      await fixture.db.query(`update ${fixture.table} set state = $2 where doc_id = $1`, [
        failedRow.id,
        FIXTURE_STATUSES.failed,
      ]);
      const yaml = (await Deno.readTextFile(w.sourcesPath)).replace(
        "    originals:",
        `    delete_where: "tenant = 'erase-me'"\n    originals:`,
      );
      const sourcesPath = `${w.world.dir}/sources-delete-where.yaml`;
      await Deno.writeTextFile(sourcesPath, yaml);
      const env = new Map(Object.entries({ ...w.world.env, DES_LOG_LEVEL: "error" }));
      assertEquals(await reapCommand(["--once", "--sources", sourcesPath], env), 0);
      const stone = await getTombstone(w.world.meta.db, asked.name);
      assertEquals([stone?.origin, stone?.bytes], ["parent", asked.size]);
      assertEquals(await getTombstone(w.world.meta.db, failedRow.name), null);
      assertEquals((await w.row(asked.id)).status, FIXTURE_STATUSES.packed, "waits for erasure");

      await w.world.meta.db.query(
        "update des_tombstones set erased_at = now(), erased_by = 'compaction' where name = $1",
        [asked.name],
      );
      assertEquals(await reapCommand(["--once", "--sources", sourcesPath], env), 0);
      assertEquals((await w.row(asked.id)).status, DELETE_STATUSES.purged);

      await assertRejects(
        () => reapCommand(["--once", "--sources", w.world.sourcesPath], env),
        DesConfigError,
        "no source has a deletion rule",
      );
    } finally {
      await w.close();
    }
  },
});
