/**
 * Database statement spans: the operation name of a statement, and with
 * tracing on (a child process exporting to a receiver in this test) one
 * client span per statement and per transaction on both engines, with no
 * parameter values or statement text among the attributes.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { otlpReceiver, type ReceivedSpan } from "./_helpers/otlp_receiver.ts";
import { operationName } from "../db/db_spans.ts";

Deno.test("db spans: the operation name is the first SQL word, after comments", () => {
  assertEquals(operationName("select 1"), "SELECT");
  assertEquals(
    operationName("\n  -- why\n/* what */ with x as (select 1) select * from x"),
    "WITH",
  );
  assertEquals(operationName("insert into t values ($1)"), "INSERT");
  assertEquals(operationName(""), "SQL");
});

const SCRIPT = `
import { openDb } from "${new URL("../db/open_db.ts", import.meta.url).href}";
const db = await openDb(Deno.args[0]);
await db.exec("create table if not exists span_t (v text)");
await db.transaction(async (tx) => {
  await tx.query("insert into span_t values ($1)", ["secret-value"]);
  await tx.query("select v from span_t");
});
await db.query("select count(*) from span_t where v = $1", ["secret-value"]);
await db.close();
`;

async function spansOf(url: string): Promise<ReceivedSpan[]> {
  const receiver = otlpReceiver();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", SCRIPT, url],
      env: receiver.env("des-db"),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const deadline = Date.now() + 30_000;
    while (receiver.spans.length < 5 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return [...receiver.spans];
  } finally {
    await receiver.close();
  }
}

function check(spans: ReceivedSpan[]): void {
  const tx = spans.find((s) => s.name === "des.db.transaction");
  assert(tx, `spans: ${spans.map((s) => s.name)}`);
  const inTx = spans.filter((s) => s.parentSpanId === tx.spanId).map((s) => s.name);
  assertEquals(inTx.filter((n) => n === "INSERT" || n === "SELECT"), ["INSERT", "SELECT"]);
  for (const name of ["CREATE", "INSERT", "SELECT"]) {
    const span = spans.find((s) => s.name === name);
    assert(span, `no ${name} span`);
    assertEquals(span.kind, 3);
    assertEquals(span.attributes["db.system"], "postgresql");
    assertEquals(span.attributes["db.operation.name"], name);
  }
  assert(!JSON.stringify(spans).includes("secret-value"), "a parameter value in a span");
  assert(!JSON.stringify(spans).includes("span_t"), "statement text in a span");
}

Deno.test("db spans: embedded engine, one client span per statement and transaction", async () => {
  check(await spansOf("embedded:memory"));
});

Deno.test("db spans: PostgreSQL, one client span per statement and transaction", async () => {
  const pg = await createTestDatabase();
  try {
    check(await spansOf(pg.url));
  } finally {
    await pg.drop();
  }
});
