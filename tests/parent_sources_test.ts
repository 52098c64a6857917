import { DesConfigError } from "../core/errors.ts";
import { checkSourceAgainstDb, loadSources, parseSources } from "../parent/sources.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "./_helpers/assert.ts";
import { createParentFixture, fixtureSourcesYaml } from "./_helpers/parent_fixture.ts";

const env = (vars: Record<string, string>) => new Map(Object.entries(vars));

const GOOD = fixtureSourcesYaml({
  table: "catalog.documents",
  dsnEnv: "PARENT_DSN",
  maxAgeDays: 45,
  originals: "fs_root: /srv/docs/",
});

Deno.test("parseSources reads every field of a valid source", () => {
  const [s] = parseSources(GOOD, env({ PARENT_DSN: "postgres://u@h:5432/d" }));
  assertEquals(s.name, "fixture-docs");
  assertEquals(s.dsn, "postgres://u@h:5432/d");
  assertEquals([s.schema, s.table], ["catalog", "documents"]);
  assertEquals(s.columns.id, "doc_id");
  assertEquals(s.columns.error, "failure_note");
  assertEquals(s.statuses, {
    eligible: "live",
    marked: "queued",
    packed: "archived",
    failed: "broken",
  });
  assertEquals(s.maxAgeDays, 45);
  assertEquals(s.where, "tenant <> 'legal-hold'");
  assertEquals(s.originals, { kind: "fs", root: "/srv/docs" });
});

Deno.test("max_age_days defaults to DES_MARKER_MAX_AGE_DAYS, and s3 originals parse", () => {
  const yaml = GOOD.replace(/ *max_age_days: 45\n/, "").replace(
    "fs_root: /srv/docs/",
    "s3: s3://parent-files/scans/2024/",
  );
  const [s] = parseSources(
    yaml,
    env({ PARENT_DSN: "embedded:memory", DES_MARKER_MAX_AGE_DAYS: "7" }),
  );
  assertEquals(s.maxAgeDays, 7);
  assertEquals(s.originals, { kind: "s3", bucket: "parent-files", prefix: "scans/2024" });
  const [d] = parseSources(yaml, env({ PARENT_DSN: "embedded:memory" }));
  assertEquals(d.maxAgeDays, 30);
});

Deno.test("the deletion rule: deleted and purged statuses, optional delete_where", () => {
  const dsn = env({ PARENT_DSN: "embedded:memory" });
  const rule = GOOD.replace(
    "      failed: broken\n",
    "      failed: broken\n      deleted: gone\n      purged: erased\n",
  );
  const [s] = parseSources(
    rule.replace("originals:", 'delete_where: "deleted_at IS NOT NULL"\n    originals:'),
    dsn,
  );
  assertEquals([s.statuses.deleted, s.statuses.purged], ["gone", "erased"]);
  assertEquals(s.deleteWhere, "deleted_at IS NOT NULL");
  const [plain] = parseSources(GOOD, dsn);
  assertEquals([plain.statuses.deleted, plain.deleteWhere], [undefined, undefined]);

  const half = GOOD.replace(
    "      failed: broken\n",
    "      failed: broken\n      deleted: gone\n",
  );
  assertThrows(
    () => parseSources(half, dsn),
    DesConfigError,
    "statuses.deleted needs statuses.purged",
  );
  const clash = rule.replace("purged: erased", "purged: archived");
  assertThrows(() => parseSources(clash, dsn), DesConfigError, "six different values");
  const orphan = GOOD.replace("originals:", 'delete_where: "x"\n    originals:');
  assertThrows(
    () => parseSources(orphan, dsn),
    DesConfigError,
    "delete_where needs statuses.deleted",
  );
  const two = rule.replace("originals:", 'delete_where: "a; drop table x"\n    originals:');
  assertThrows(() => parseSources(two, dsn), DesConfigError, "delete_where must be one predicate");
});

Deno.test("the shipped configs/sources.yaml is valid", async () => {
  const sources = await loadSources(
    new URL("../configs/sources.yaml", import.meta.url).pathname,
    env({ DES_PARENT_DOCUMENTS_DSN: "postgres://des@db:5432/parent" }),
  );
  assertEquals(sources.map((s) => s.name), ["documents"]);
});

Deno.test("every problem is reported at once, naming the source, key and variable", () => {
  const yaml = `
sources:
  - name: scans
    dsn_env: SCANS_DSN
    table: public."scans
    colums: {}
    statuses: { eligible: a, marked: a, packed: c }
    max_age_days: -1
    originals: { fs_root: relative/dir }
  - name: letters
    dsn_env: LETTERS_DSN
    table: letters
    columns:
      id: id
      location: path
      status: "   "
      created_at: created_at
      des_name: des_name
      des_shard: des_shard
      container: container
      packed_at: packed_at
      colour: red
    statuses: { eligible: a, marked: b, packed: c, failed: d }
    originals: { s3: "http://not-s3" }
extra: 1
`;
  const err = assertThrows(
    () => parseSources(yaml, env({ LETTERS_DSN: "mysql://x" })),
    DesConfigError,
  );
  const expected = [
    'unknown top-level key "extra"',
    'source "scans": unknown key "colums"',
    'source "scans": environment variable SCANS_DSN (dsn_env) is not set',
    `source "scans": table "public.\\"scans" must be name or schema.name`,
    'source "scans": missing mapping "columns"',
    'source "scans": missing key "statuses.failed"',
    'source "scans": max_age_days must be a whole number',
    'source "scans": originals.fs_root must be an absolute directory path',
    'source "letters": LETTERS_DSN must hold postgres://',
    'source "letters": unknown key "columns.colour"',
    'source "letters": columns.status "   " is not a column name',
    'source "letters": originals.s3 must look like s3://bucket',
  ];
  for (const text of expected) {
    assert(err.message.includes(text), `missing: ${text}\n${err.message}`);
  }
  assertEquals((err.context.problems as string[]).length, expected.length);
});

Deno.test("duplicate source names, duplicate columns and empty lists are rejected", () => {
  const twice = GOOD + GOOD.split("sources:\n")[1];
  assertThrows(
    () => parseSources(twice, env({ PARENT_DSN: "embedded:memory" })),
    DesConfigError,
    'source "fixture-docs": duplicate name',
  );
  const dupCol = GOOD.replace("size: byte_size", "size: doc_id");
  assertThrows(
    () => parseSources(dupCol, env({ PARENT_DSN: "embedded:memory" })),
    DesConfigError,
    'both name column "doc_id"',
  );
  assertThrows(() => parseSources("sources: []", env({})), DesConfigError, "`sources:` is empty");
  assertThrows(() => parseSources("sources: [", env({})), DesConfigError, "not valid YAML");
});

Deno.test("loadSources names a file it cannot read", async () => {
  await assertRejects(
    () => loadSources("/nonexistent/sources.yaml", env({})),
    DesConfigError,
    "cannot read sources file /nonexistent/sources.yaml",
  );
});

Deno.test("checkSourceAgainstDb detects the id type and names unknown columns", async () => {
  const fx = await createParentFixture({ rows: 1, originals: "none", idType: "uuid" });
  try {
    const schema = await checkSourceAgainstDb(fx.db, fx.source);
    assertEquals(schema.idType, "uuid");
    assert(schema.columns.has("tenant"));

    const wrong = { ...fx.source, columns: { ...fx.source.columns, location: "path_of_file" } };
    const err = await assertRejects(() => checkSourceAgainstDb(fx.db, wrong), DesConfigError);
    assertMatch(err.message, /"catalog"\."documents"/);
    assertMatch(err.message, /columns\.location: column "path_of_file" does not exist/);
    assertMatch(err.message, /the table has: doc_id, file_path, state,/);

    const missing = { ...fx.source, table: "no_such_table" };
    await assertRejects(
      () => checkSourceAgainstDb(fx.db, missing),
      DesConfigError,
      "does not exist",
    );

    const badType = { ...fx.source, columns: { ...fx.source.columns, des_shard: "file_path" } };
    await assertRejects(
      () => checkSourceAgainstDb(fx.db, badType),
      DesConfigError,
      "columns.des_shard: type text is not an integer type",
    );
  } finally {
    await fx.close();
  }
});
