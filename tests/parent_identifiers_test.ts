/**
 * Identifiers with spaces, dots and quotes work everywhere one is
 * configured (schema, table, columns), end to end: a parent table
 * `"Archiv Alt"."Dokumente Alt"` with an enum status, a uuid key and short
 * columns is refused at start-up naming the column (nothing marked, nothing
 * packed), and once the column is wide enough `des mark` and `des pack` pack
 * every row, byte-exact — never half-packed.
 */

import { DesConfigError } from "../core/errors.ts";
import { DesReader } from "../format/reader.ts";
import { markCommand } from "../mark/main.ts";
import { packCommand } from "../pack/main.ts";
import { parseSources, splitQualifiedName } from "../parent/sources.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";

const ROWS = 30;

Deno.test("splitQualifiedName: dots split outside double quotes; names are taken literally", () => {
  assertEquals(splitQualifiedName("Dokumente Alt"), ["Dokumente Alt"]);
  assertEquals(splitQualifiedName("archiv.Dokumente Alt"), ["archiv", "Dokumente Alt"]);
  assertEquals(splitQualifiedName('"Archiv Alt"."Dokumente Alt"'), ["Archiv Alt", "Dokumente Alt"]);
  assertEquals(splitQualifiedName('"my.schema"."we""ird"'), ["my.schema", 'we"ird']);
  assertEquals(splitQualifiedName('"open'), undefined);
  assertEquals(splitQualifiedName('"a"b'), undefined);
  assertEquals(splitQualifiedName('a"b'), undefined);
  const [source] = parseSources(
    `sources:
  - name: alt
    dsn_env: ALT_DSN
    table: '"Archiv Alt"."Dokumente Alt"'
    columns: { id: Dok Id, location: Datei.Pfad, status: Zustand, created_at: Angelegt Am,
      des_name: DES Name, des_shard: DES Shard, container: Ablage Ort, packed_at: Gepackt Am }
    statuses: { eligible: aktiv, marked: vorgemerkt, packed: archiviert, failed: defekt }
    originals: { fs_root: /srv/alt }
`,
    new Map([["ALT_DSN", "postgres://x@y/z"]]),
  );
  assertEquals([source.schema, source.table], ["Archiv Alt", "Dokumente Alt"]);
  assertEquals(source.columns.location, "Datei.Pfad");
});

function sourcesYaml(dsnEnv: string, root: string): string {
  return `sources:
  - name: alt-docs
    dsn_env: ${dsnEnv}
    table: '"Archiv Alt"."Dokumente Alt"'
    columns:
      id: Dok Id
      location: Datei.Pfad
      status: Zustand
      created_at: Angelegt Am
      des_name: DES Name
      des_shard: DES Shard
      container: Ablage Ort
      packed_at: Gepackt Am
      error: Fehler "Text"
    statuses: { eligible: aktiv, marked: vorgemerkt, packed: archiviert, failed: defekt }
    max_age_days: 30
    where: '"Mandant Nr" <> 7'
    originals:
      fs_root: ${root}
`;
}

function contentOf(i: number): Uint8Array {
  return new TextEncoder().encode(`Dokument ${i} „alt" ${"x".repeat(i * 13)}`);
}

Deno.test({
  name: "identifiers with spaces: a short column is refused naming it, then everything packs",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const parent = await createTestDatabase({ max: 2 });
    const meta = await createTestDatabase({ max: 2 });
    const archive = await testS3Store("alt-archive");
    const dir = await Deno.makeTempDir({ prefix: "des-alt-" });
    try {
      await parent.db.exec(`
        CREATE SCHEMA "Archiv Alt";
        CREATE TYPE "Archiv Alt"."Zustand Typ"
          AS ENUM ('aktiv', 'vorgemerkt', 'archiviert', 'defekt');
        CREATE TABLE "Archiv Alt"."Dokumente Alt" (
          "Dok Id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          "Datei.Pfad" text NOT NULL,
          "Zustand" "Archiv Alt"."Zustand Typ" NOT NULL DEFAULT 'aktiv',
          "Angelegt Am" timestamptz NOT NULL DEFAULT now() - interval '90 days',
          "DES Name" varchar(24),
          "DES Shard" smallint,
          "Ablage Ort" varchar(40),
          "Gepackt Am" timestamptz,
          "Fehler ""Text""" varchar(30),
          "Mandant Nr" int NOT NULL DEFAULT 1
        );`);
      const root = `${dir}/originals`;
      await Deno.mkdir(`${root}/Alte Ablage`, { recursive: true });
      for (let i = 0; i < ROWS; i++) {
        const path = `Alte Ablage/Brief ${i}.txt`;
        await Deno.writeFile(`${root}/${path}`, contentOf(i));
        await parent.db.query(
          `INSERT INTO "Archiv Alt"."Dokumente Alt" ("Datei.Pfad") VALUES ($1)`,
          [
            path,
          ],
        );
      }
      const dsnEnv = "DES_TEST_ALT_DSN";
      const sourcesPath = `${dir}/sources.yaml`;
      await Deno.writeTextFile(sourcesPath, sourcesYaml(dsnEnv, root));
      const env = new Map(Object.entries({
        ...withTestS3Env(),
        [dsnEnv]: parent.url,
        DES_DATABASE_URL: meta.url,
        DES_ARCHIVE_BUCKET: archive.bucket,
        DES_PACKER_WORKDIR: `${dir}/work`,
        DES_LOG_LEVEL: "error",
      }));
      const args = ["--once", "--sources", sourcesPath];
      const states = async () =>
        Object.fromEntries(
          (await parent.db.query<{ s: string; n: number }>(
            `SELECT "Zustand"::text AS s, count(*)::int AS n FROM "Archiv Alt"."Dokumente Alt" GROUP BY 1`,
          )).map((r) => [r.s, r.n]),
        );

      // "Ablage Ort" varchar(40) cannot hold s3://<bucket>/alt-docs/<shard>/<id>.des.
      for (const run of [markCommand, packCommand]) {
        const error = await run(args, env).then(() => undefined, (e) => e);
        assert(error instanceof DesConfigError, `${run.name}: ${error}`);
        assertMatch(
          error.message,
          /source "alt-docs", table "Archiv Alt"\."Dokumente Alt": columns\.container: column "Ablage Ort" is character varying\(40\), too short: .*it needs at least \d+ characters/,
        );
      }
      assertEquals(await states(), { aktiv: ROWS });

      await parent.db.exec(
        `ALTER TABLE "Archiv Alt"."Dokumente Alt" ALTER COLUMN "Ablage Ort" TYPE varchar(200)`,
      );
      assertEquals(await markCommand(args, env), 0);
      assertEquals(await states(), { vorgemerkt: ROWS });
      assertEquals(await packCommand(args, env), 0);
      assertEquals(await states(), { archiviert: ROWS });

      const rows = await parent.db.query<{ path: string; name: string; container: string }>(
        `SELECT "Datei.Pfad" AS path, "DES Name" AS name, "Ablage Ort" AS container
           FROM "Archiv Alt"."Dokumente Alt"`,
      );
      for (const row of rows) {
        const prefix = `s3://${archive.bucket}/`;
        assert(row.container.startsWith(prefix), row.container);
        const reader = await DesReader.open(
          new StoreRangeSource(archive, row.container.slice(prefix.length)),
        );
        const i = Number(/Brief (\d+)/.exec(row.path)![1]);
        assertEquals(await reader.readFile(row.name), contentOf(i));
      }
    } finally {
      await removeTestS3Store(archive);
      await meta.drop();
      await parent.drop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
