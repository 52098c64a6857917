/**
 * `des mark --once` and `des pack --once` exporting spans (Deno's OTLP/HTTP
 * JSON export to a receiver in this test): one span per marker batch, and
 * per container an upload span, a span for the rest of its pipeline and
 * one step span per state it reaches, all carrying the container id; the
 * database statements of the steps are client spans inside them, and with
 * an S3 archive so are the AWS SDK requests of the upload.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { createParentFixture } from "./_helpers/parent_fixture.ts";
import { otlpReceiver, type ReceivedSpan } from "./_helpers/otlp_receiver.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";

const DES = new URL("../cli/des.ts", import.meta.url).pathname;

async function des(args: string[], env: Record<string, string>): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", DES, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

async function spansOf(
  spans: ReceivedSpan[],
  service: string,
  enough: (s: ReceivedSpan[]) => boolean,
): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const mine = spans.filter((s) => s.service === service);
    if (enough(mine) || Date.now() > deadline) return mine;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Spans below any of `roots` (children, grandchildren, …). */
function below(spans: ReceivedSpan[], roots: ReceivedSpan[]): ReceivedSpan[] {
  const ids = new Set(roots.map((s) => s.spanId));
  const out: ReceivedSpan[] = [];
  for (let grew = true; grew;) {
    grew = false;
    for (const s of spans) {
      if (ids.has(s.parentSpanId) && !ids.has(s.spanId)) {
        ids.add(s.spanId);
        out.push(s);
        grew = true;
      }
    }
  }
  return out;
}

/** Database statement spans: client kind, `db.system`, an upper-case first SQL word. */
function dbSpans(spans: ReceivedSpan[]): ReceivedSpan[] {
  return spans.filter((s) =>
    s.kind === 3 && s.attributes["db.system"] === "postgresql" &&
    s.name === s.attributes["db.operation.name"]
  );
}

Deno.test("traces: marker batches and each packer container step are spans", async () => {
  const work = await Deno.makeTempDir({ prefix: "des-otel-pack-" });
  try {
    await markAndPack({ DES_STORE_ROOT: `${work}/store`, DES_PACKER_WORKDIR: `${work}/work` });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test({
  name: "traces: the packer's S3 requests are client spans inside its container steps",
  ignore: s3TestIgnore(),
  async fn() {
    const store = await testS3Store("otelpack");
    const work = await Deno.makeTempDir({ prefix: "des-otel-pack-" });
    try {
      const packer = await markAndPack({
        ...withTestS3Env(),
        DES_ARCHIVE_BUCKET: store.bucket,
        DES_PACKER_WORKDIR: `${work}/work`,
      });
      const s3 = packer.filter((s) => s.name.startsWith("S3."));
      const uploads = packer.filter((s) => s.name === "des.packer.upload");
      const puts = below(packer, uploads).filter((s) =>
        s.name === "S3.PutObject" || s.name === "S3.CreateMultipartUpload"
      );
      assert(puts.length >= uploads.length, `S3 spans: ${s3.map((s) => s.name)}`);
      for (const span of puts) {
        assertEquals(span.kind, 3);
        assertEquals(span.attributes["rpc.system"], "aws-api");
        assertEquals(span.attributes["rpc.service"], "S3");
        assertEquals(`S3.${span.attributes["rpc.method"]}`, span.name);
        assertEquals(span.attributes["aws.s3.bucket"], store.bucket);
        assertEquals(span.attributes["http.response.status_code"], 200);
      }
      // Completing a container checks the uploaded object first: a ranged GET of its
      // tail (through the SDK, or the signed fetch of the archive store: a fetch span).
      const completes = packer.filter((s) => s.name === "des.packer.complete");
      const inside = below(packer, completes);
      const reads = inside.filter((s) =>
        s.name === "S3.GetObject" || (s.kind === 3 && s.attributes["http.request.method"] === "GET")
      );
      assert(
        reads.length >= completes.length,
        `spans in completions: ${inside.map((s) => `${s.name} ${JSON.stringify(s.attributes)}`)}`,
      );
    } finally {
      await removeTestS3Store(store).catch(() => {});
      await Deno.remove(work, { recursive: true });
    }
  },
});

/** Mark and pack a parent fixture with tracing on; checks the common spans, returns the packer's. */
async function markAndPack(storeEnv: Record<string, string>): Promise<ReceivedSpan[]> {
  const receiver = otlpReceiver();
  const meta = await createTestDatabase({ migrate: true });
  const parent = await createParentFixture({ rows: 80 });
  const env = {
    ...storeEnv,
    ...Object.fromEntries(parent.env),
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "/root",
    DES_DATABASE_URL: meta.url,
    DES_SHARD_BITS: "2",
    DES_MARKER_BATCH_SIZE: "25",
    DES_LOG_LEVEL: "warn",
  };
  try {
    await des(["mark", "--once", "--sources", parent.sourcesPath], {
      ...env,
      ...receiver.env("des-marker"),
    });
    await des(["pack", "--once", "--sources", parent.sourcesPath], {
      ...env,
      ...receiver.env("des-packer"),
    });
    const marked = await parent.db.query<{ n: number }>(
      `select count(*)::int as n from ${parent.table} where archive_name is not null`,
    );
    const batches = (await spansOf(receiver.spans, "des-marker", (s) => s.length > 0))
      .filter((s) => s.name === "des.marker.batch");
    assert(batches.length >= Math.ceil(marked[0].n / 25), `${batches.length} batch spans`);
    assertEquals(
      batches.reduce((n, s) => n + Number(s.attributes["des.marked"]), 0),
      marked[0].n,
    );
    assert(batches.every((s) => s.attributes["des.source"] === "fixture-docs"));

    const containers = await meta.db.query<{ container_id: string; state: string }>(
      "select container_id, state from des_containers order by container_id",
    );
    assertEquals(containers.length, 4); // 2 shard bits: one container per shard
    const packer = await spansOf(
      receiver.spans,
      "des-packer",
      (s) => s.filter((x) => x.name === "des.packer.complete").length >= containers.length,
    );
    for (const { container_id: id, state } of containers) {
      const of = packer.filter((s) => s.attributes["des.container.id"] === id);
      const upload = of.find((s) => s.name === "des.packer.upload");
      const complete = of.find((s) => s.name === "des.packer.complete");
      assert(upload && complete, `spans of ${id}: ${of.map((s) => s.name)}`);
      assertEquals(complete.attributes["des.state.to"], state);
      const steps = of.filter((s) => s.name.startsWith("des.packer.step "));
      assertEquals(steps.map((s) => s.attributes["des.state.to"]), [
        "uploaded",
        "verified",
        "committed",
        "parent_updated",
      ]);
      // The upload step is inside the upload span, the others inside the completion span.
      assertEquals(steps[0].parentSpanId, upload.spanId);
      for (const s of steps.slice(1)) assertEquals(s.parentSpanId, complete.spanId);
      // Each step's database statement is a client span inside it.
      for (const step of steps.slice(1)) {
        const statements = dbSpans(below(packer, [step]));
        assert(statements.length > 0, `no DB spans in ${step.name} of ${id}`);
        for (const s of statements) assert(!("db.query.text" in s.attributes));
      }
    }
    // The marker's batches run their statements inside them too.
    const marker = receiver.spans.filter((s) => s.service === "des-marker");
    assert(dbSpans(below(marker, batches)).length > 0, "DB spans in marker batches");
    return packer;
  } finally {
    await parent.close();
    await meta.drop();
    await receiver.close();
  }
}
