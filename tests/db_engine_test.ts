import assert from "node:assert/strict";
import { DesConfigError, DesUnavailableError } from "../core/errors.ts";
import { PREPARED } from "../db/db.ts";
import { EmbeddedDb } from "../db/embedded_db.ts";
import { openDb } from "../db/open_db.ts";
import { parseArrayLiteral, toArrayLiteral } from "../db/pg_array.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { sqlStateOf } from "../db/sql_errors.ts";
import { createEmbeddedTestDatabase, TEST_ENGINES } from "./_helpers/pg.ts";

/** Resolve when `count` payloads arrived (no timeout: the test runner bounds the wait). */
function collector(
  count: number,
): { payloads: string[]; done: Promise<void>; push(p: string): void } {
  const payloads: string[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return {
    payloads,
    done,
    push(p: string) {
      payloads.push(p);
      if (payloads.length >= count) resolve();
    },
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

for (const engine of TEST_ENGINES) {
  Deno.test(`${engine.kind}: values come back with the same JS types`, async () => {
    await using t = await engine.create();
    assert.equal(t.db.kind, engine.kind);
    const [row] = await t.db.query(
      `select 42::int8 as small, 9007199254740993::int8 as big, 7::int4 as i4, 1.25::numeric as num,
         '2025-06-01T12:00:00Z'::timestamptz as ts, '{"a":[1,2]}'::jsonb as js,
         '\\x0102ff'::bytea as bin, array['x','y']::text[] as arr, null::text as nothing,
         count(*) as n, true as yes`,
    );
    assert.deepEqual(row, {
      small: 42,
      big: 9007199254740993n,
      i4: 7,
      num: "1.25",
      ts: new Date("2025-06-01T12:00:00Z"),
      js: { a: [1, 2] },
      bin: new Uint8Array([1, 2, 255]),
      arr: ["x", "y"],
      nothing: null,
      n: 1,
      yes: true,
    });
    assert.equal(Object.getPrototypeOf(row.bin), Uint8Array.prototype);
    const [params] = await t.db.query(
      `select $1::int8 as a, $2::timestamptz as b, $3::bytea as c, $4::text[] as d,
         cardinality($5::text[]) as e, $6::text is null as f, $7::int as g,
         $8::timestamptz[] as h, $9::int8[] as i, $10::bool[] as j, $11::bytea[] as k,
         $12::text[] as l, $13::text::jsonb as m`,
      [
        2n ** 60n,
        new Date(0),
        new Uint8Array([9]),
        ["p", "q"],
        [],
        null,
        5,
        [new Date(1000), null],
        [1n, 2n ** 62n, 3],
        [true, false],
        [new Uint8Array([1]), new Uint8Array([])],
        ['a "quoted", {braced}', null, "NULL", ""],
        JSON.stringify({ k: ["v"] }),
      ],
    );
    assert.deepEqual(params, {
      a: 2n ** 60n,
      b: new Date(0),
      c: new Uint8Array([9]),
      d: ["p", "q"],
      e: 0,
      f: true,
      g: 5,
      h: [new Date(1000), null],
      i: [1, 2n ** 62n, 3],
      j: [true, false],
      k: [new Uint8Array([1]), new Uint8Array([])],
      l: ['a "quoted", {braced}', null, "NULL", ""],
      m: { k: ["v"] },
    });
  });

  Deno.test(`${engine.kind}: transactions commit, and roll back on a throw`, async () => {
    await using t = await engine.create();
    await t.db.exec("create table t (v int); insert into t values (1);");
    const result = await t.db.transaction(async (tx) => {
      await tx.query("insert into t values ($1)", [2]);
      return (await tx.query<{ n: number }>("select count(*) as n from t"))[0].n;
    });
    assert.equal(result, 2);
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await tx.query("insert into t values (3)");
        throw new Error("boom");
      }),
      /boom/,
    );
    const rows = await t.db.query<{ v: number }>("select v from t order by v");
    assert.deepEqual(rows.map((r) => r.v), [1, 2]);
  });

  Deno.test(`${engine.kind}: a statement kept prepared answers like any other, every time`, async () => {
    await using t = await engine.create();
    const text = "select $1::int + 1 as n, $2::text[] as names";
    for (let i = 0; i < 7; i++) {
      assert.deepEqual(await t.db.query(text, [i, ["a", "b"]], PREPARED), [{
        n: i + 1,
        names: ["a", "b"],
      }]);
    }
    await t.db.transaction(async (tx) => {
      assert.deepEqual(await tx.query(text, [41, []], PREPARED), [{ n: 42, names: [] }]);
      if (engine.kind !== "postgres") return;
      // On PostgreSQL it is a named statement of the connection.
      const [{ n }] = await tx.query<{ n: number }>(
        "select count(*)::int as n from pg_prepared_statements where statement = $1",
        [text],
      );
      assert.equal(n, 1);
    });
  });

  Deno.test(`${engine.kind}: SQL errors keep their SQLSTATE`, async () => {
    await using t = await engine.create();
    const err = await t.db.query("select 1/0").catch((e) => e);
    assert.equal(sqlStateOf(err), "22012");
    const syntax = await t.db.query("selec 1").catch((e) => e);
    assert.equal(sqlStateOf(syntax), "42601");
  });

  Deno.test(`${engine.kind}: listen/notify delivers, only after commit, until unlisten`, async () => {
    await using t = await engine.create();
    const got = collector(3);
    const unlisten = await t.db.listen("Des_Mixed_Case", (p) => got.push(p));
    const lower = collector(1);
    const unlistenLower = await t.db.listen("des_mixed_case", (p) => lower.push(p));
    await t.db.notify("Des_Mixed_Case", "one");
    await t.db.transaction(async (tx) => {
      await tx.query("select pg_notify($1, $2)", ["Des_Mixed_Case", "two"]);
    });
    await t.db.transaction(async (tx) => {
      await tx.query("select pg_notify($1, $2)", ["Des_Mixed_Case", "rolled-back"]);
      throw new Error("abort");
    }).catch(() => {});
    await t.db.notify("des_mixed_case", "lower");
    await t.db.notify("Des_Mixed_Case", "three");
    await Promise.all([got.done, lower.done]);
    assert.deepEqual(got.payloads, ["one", "two", "three"]);
    assert.deepEqual(lower.payloads, ["lower"]);
    await unlisten();
    await unlistenLower();
    // After unlisten, a fresh listener still works and the old one gets nothing.
    const after = collector(1);
    const unlistenAfter = await t.db.listen("Des_Mixed_Case", (p) => after.push(p));
    await t.db.notify("Des_Mixed_Case", "four");
    await after.done;
    assert.deepEqual(got.payloads, ["one", "two", "three"]);
    await unlistenAfter();
  });
}

Deno.test("postgres: an unreachable server is DesUnavailableError naming the host, not the password", async () => {
  const port = freePort();
  const err = await openDb(`postgres://des:sekret-pw@127.0.0.1:${port}/x`, {
    connectTimeoutSeconds: 5,
  }).catch((e) => e);
  assert.ok(err instanceof DesUnavailableError, String(err));
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.doesNotMatch(JSON.stringify(err.toProblem()) + err.message, /sekret/);
  assert.equal(err.context.host, "127.0.0.1");
});

Deno.test("postgres: a missing database is DesUnavailableError", async () => {
  const err = await openDb("postgres://postgres@127.0.0.1:5432/des_no_such_db_9f3a").catch((e) =>
    e
  );
  assert.ok(err instanceof DesUnavailableError, String(err));
  assert.match(err.message, /des_no_such_db_9f3a/);
});

Deno.test("openDb rejects unknown schemes", async () => {
  await assert.rejects(openDb("mysql://x"), DesConfigError);
  await assert.rejects(openDb("embedded:"), DesConfigError);
});

Deno.test("embedded: data persists across reopen and the directory is locked while open", async () => {
  await using t = await createEmbeddedTestDatabase();
  const dir = t.url.slice("embedded:".length);
  await t.db.exec("create table kept (v text); insert into kept values ('persisted');");
  await assert.rejects(EmbeddedDb.open(dir), DesUnavailableError);
  await t.db.close();
  const again = await openDb(t.url);
  try {
    assert.deepEqual(await again.query("select v from kept"), [{ v: "persisted" }]);
  } finally {
    await again.close();
  }
});

Deno.test("embedded: openers of one directory in one process share the engine", async () => {
  await using t = await createEmbeddedTestDatabase();
  const second = await openDb(t.url);
  await second.exec("create table shared_t (v int); insert into shared_t values (7);");
  assert.deepEqual(await t.db.query("select v from shared_t"), [{ v: 7 }]);
  await second.close();
  assert.deepEqual(
    await t.db.query("select v from shared_t"),
    [{ v: 7 }],
    "first handle still open",
  );
  await t.db.close();
  const third = await openDb(t.url);
  try {
    assert.deepEqual(await third.query("select v from shared_t"), [{ v: 7 }]);
  } finally {
    await third.close();
  }
});

Deno.test("quoteIdent quotes every part and rejects bad identifiers", () => {
  assert.equal(quoteIdent("files"), '"files"');
  assert.equal(quoteIdent("Parent.Files"), '"Parent"."Files"');
  assert.equal(quoteIdent('we"ird'), '"we""ird"');
  for (const bad of ["", "a..b", "x\0y", "a".repeat(64)]) {
    assert.throws(() => quoteIdent(bad), DesConfigError, JSON.stringify(bad));
  }
});

Deno.test("array literals round-trip NULL, quotes, backslashes and nesting", () => {
  const values = [['a "q"', "back\\slash", "NULL", "", null, "x,y", "{z}"], [null, "b"]];
  const literal = toArrayLiteral(values);
  assert.equal(
    literal,
    String.raw`{{"a \"q\"","back\\slash","NULL","",NULL,"x,y","{z}"},{NULL,"b"}}`,
  );
  assert.deepEqual(parseArrayLiteral(literal, (s) => s), values);
  assert.deepEqual(parseArrayLiteral("{1,NULL,3}", Number), [1, null, 3]);
  assert.deepEqual(parseArrayLiteral("[0:1]={7,8}", Number), [7, 8]);
  assert.deepEqual(parseArrayLiteral("{}", Number), []);
});
