/**
 * The start-up contract check covers types and sizes: a name or container
 * column shorter than what DES writes, a shard column that cannot hold the
 * largest shard, status values the column refuses (enum, CHECK, length) and
 * a `where` that does not parse are each refused naming the source, the
 * column and the needed size — by `checkSourceAgainstDb` and by both entry
 * points (marker and packer, exit status 2) before anything is written.
 */

import { DesConfigError } from "../core/errors.ts";
import { markCommand, reportMarkError } from "../mark/main.ts";
import { containerKey, containerLocation } from "../pack/layout.ts";
import { packCommand, reportPackError } from "../pack/main.ts";
import {
  archiveUrlOf,
  type ContractNeeds,
  neededContainerLength,
  neededNameLength,
} from "../parent/contract_needs.ts";
import { checkSourceAgainstDb } from "../parent/source_check.ts";
import { NameGenerator } from "../naming/name_generator.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "./_helpers/assert.ts";
import { createParentFixture, type ParentFixture } from "./_helpers/parent_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { s3TestIgnore, uniqueBucketName, withTestS3Env } from "./_helpers/s3.ts";

const NEEDS16: ContractNeeds = {
  shardBits: 16,
  namePrefix: "dokarchiv",
  archiveUrl: "s3://des-archive-production",
};

async function refusal(fx: ParentFixture, needs?: ContractNeeds, where?: string) {
  const source = where === undefined ? fx.source : { ...fx.source, where };
  const error = await assertRejects(
    () => checkSourceAgainstDb(fx.db, source, needs),
    DesConfigError,
  );
  assertMatch(error.message, /^source "fixture-docs", table "catalog"\."documents": /);
  return error.message;
}

Deno.test("contract needs: name and container lengths are those DES really writes", () => {
  for (const [shardBits, prefix] of [[1, ""], [8, ""], [16, "dokarchiv"], [10, "p"]] as const) {
    const needs = { shardBits, namePrefix: prefix, archiveUrl: "s3://bucket-x" };
    const name = new NameGenerator({ nodeId: 3, shardBits, prefix }).nextBatch(1)[0];
    assertEquals(neededNameLength(needs), name.length);
    const key = containerKey("src-a", 2 ** shardBits - 1, shardBits, "f".repeat(32));
    assertEquals(
      neededContainerLength(needs, "src-a"),
      containerLocation(needs.archiveUrl, key).length,
    );
  }
  const fsUrl = archiveUrlOf({ s3Endpoint: "", archiveBucket: "b", storeRoot: "/srv/des store" });
  assertEquals(fsUrl, "file:///srv/des%20store/b");
});

Deno.test("contract check: short name and container columns and a smallint shard are refused", async () => {
  const fx = await createParentFixture({
    rows: 5,
    originals: "none",
    setupSql: `ALTER TABLE catalog.documents
      ALTER COLUMN archive_name TYPE varchar(20),
      ALTER COLUMN archive_container TYPE varchar(40),
      ALTER COLUMN archive_shard TYPE smallint`,
  });
  try {
    const name = neededNameLength(NEEDS16);
    const container = neededContainerLength(NEEDS16, "fixture-docs");
    const message = await refusal(fx, NEEDS16);
    assertMatch(
      message,
      new RegExp(
        `columns\\.des_name: column "archive_name" is character varying\\(20\\), too short: ` +
          `the longest DES name has ${name} characters \\(DES_NAME_PREFIX="dokarchiv", ` +
          `DES_SHARD_BITS=16\\); it needs at least ${name} characters`,
      ),
    );
    assertMatch(
      message,
      new RegExp(
        `columns\\.container: column "archive_container" is character varying\\(40\\), ` +
          `too short: .*it needs at least ${container} characters`,
      ),
    );
    assertMatch(
      message,
      /columns\.des_shard: column "archive_shard" is smallint \(up to 32767\), but DES_SHARD_BITS=16 needs shards up to 65535/,
    );
    // Without a smaller configuration the same columns fit: 8 shard bits, no prefix, short URL.
    const small = { shardBits: 8, namePrefix: "", archiveUrl: "s3://a" };
    assert(neededContainerLength(small, "fixture-docs") > 40);
    const again = await refusal(fx, small);
    assert(!again.includes("des_name") && !again.includes("des_shard"), again);
    await fx.db.exec(
      `ALTER TABLE catalog.documents ALTER COLUMN archive_container TYPE varchar(60)`,
    );
    await checkSourceAgainstDb(fx.db, fx.source, small);
  } finally {
    await fx.close();
  }
});

Deno.test("contract check: status values outside an enum, a CHECK or a short column are refused", async () => {
  const enumFx = await createParentFixture({
    rows: 5,
    originals: "none",
    setupSql: `CREATE TYPE catalog."Doc State" AS ENUM ('live', 'queued', 'archived');
      DROP INDEX catalog.documents_inserted_on_idx, catalog.documents_archive_shard_archive_name_idx;
      ALTER TABLE catalog.documents ALTER COLUMN state DROP DEFAULT,
        ALTER COLUMN state TYPE catalog."Doc State" USING state::catalog."Doc State",
        ALTER COLUMN state SET DEFAULT 'live'`,
  });
  try {
    assertMatch(
      await refusal(enumFx),
      /statuses\.failed: value "broken" is not a valid catalog\."Doc State" for column "state": .*invalid input value for enum/,
    );
    await enumFx.db.exec(`ALTER TYPE catalog."Doc State" ADD VALUE 'broken'`);
    await checkSourceAgainstDb(enumFx.db, enumFx.source, NEEDS16);
  } finally {
    await enumFx.close();
  }
  const checked = await createParentFixture({
    rows: 5,
    originals: "none",
    setupSql: `ALTER TABLE catalog.documents ADD CONSTRAINT state_known
      CHECK (state IN ('live', 'queued', 'archived', 'gone'));
      ALTER TABLE catalog.documents ADD CONSTRAINT other CHECK (byte_size >= 0)`,
  });
  try {
    const message = await refusal(checked);
    assertMatch(
      message,
      /statuses\.failed: value "broken" is refused by CHECK constraint "state_known" on column "state"/,
    );
    assert(!message.includes("statuses.marked"), message);
  } finally {
    await checked.close();
  }
  const short = await createParentFixture({
    rows: 5,
    originals: "none",
    setupSql: `ALTER TABLE catalog.documents ALTER COLUMN state TYPE varchar(6)`,
  });
  try {
    assertMatch(
      await refusal(short),
      /statuses\.packed: value "archived" does not fit column "state" \(character varying\(6\)\): it would be stored as "archiv"; it needs at least 8 characters/,
    );
  } finally {
    await short.close();
  }
});

Deno.test("contract check: a where clause that does not parse is refused", async () => {
  const fx = await createParentFixture({ rows: 5, originals: "none" });
  try {
    assertMatch(
      await refusal(fx, undefined, "tennant <> 'legal-hold'"),
      /where "tennant <> 'legal-hold'" does not work on "catalog"\."documents": .*tennant.*does not exist/,
    );
    assertMatch(
      await refusal(fx, undefined, "tenant <> "),
      /where "tenant <> " does not work on .*syntax error/,
    );
    await checkSourceAgainstDb(fx.db, fx.source, NEEDS16);
  } finally {
    await fx.close();
  }
});

async function rowsByState(fx: ParentFixture): Promise<Record<string, number>> {
  const rows = await fx.db.query<{ state: string; n: number }>(
    `SELECT state, count(*)::int AS n FROM ${fx.table} GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

Deno.test({
  name: "contract check: des mark and des pack exit 2 naming the column before any write",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const fx = await createParentFixture({
      rows: 20,
      originals: "fs",
      setupSql: `ALTER TABLE catalog.documents ALTER COLUMN archive_shard TYPE smallint`,
    });
    const meta = await createTestDatabase();
    try {
      const before = await rowsByState(fx);
      const bucket = uniqueBucketName("contract");
      const env = new Map(Object.entries({
        ...Object.fromEntries(fx.env),
        ...withTestS3Env(),
        DES_SHARD_BITS: "16",
        DES_DATABASE_URL: meta.url,
        DES_ARCHIVE_BUCKET: bucket,
        DES_PACKER_WORKDIR: `${fx.dir}/work`,
        DES_LOG_LEVEL: "error",
      }));
      const args = ["--once", "--sources", fx.sourcesPath];
      const marked = await markCommand(args, env).then(() => undefined, (e) => e);
      assert(marked instanceof DesConfigError, `des mark: ${marked}`);
      assertMatch(
        marked.message,
        /source "fixture-docs".*columns\.des_shard: column "archive_shard" is smallint \(up to 32767\).*up to 65535/,
      );
      const packed = await packCommand(args, env).then(() => undefined, (e) => e);
      assert(packed instanceof DesConfigError, `des pack: ${packed}`);
      assertMatch(
        packed.message,
        /source "fixture-docs".*columns\.des_shard: column "archive_shard"/,
      );
      const errors: string[] = [];
      const saved = console.error;
      console.error = (line: string) => errors.push(line);
      try {
        assertEquals(reportMarkError(marked), 2);
        assertEquals(reportPackError("pack", packed), 2);
      } finally {
        console.error = saved;
      }
      assertEquals(errors.length, 2);
      // Nothing was written: not the parent rows, not even the DES database's migrations
      // (which come before the archive bucket is created).
      assertEquals(await rowsByState(fx), before);
      const [tables] = await meta.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`,
      );
      assertEquals(tables.n, 0);
    } finally {
      await meta.drop();
      await fx.close();
    }
  },
});
