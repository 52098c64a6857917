/**
 * The `GET|HEAD /files/{name}` fast path answers exactly as the Hono chain
 * does: every request is sent twice over real HTTP, once with a plain name
 * (fast path) and once with the same name percent-encoded (declined by the
 * fast path, served by the router and middleware), against a real
 * PostgreSQL catalog and a real Ceph RGW bucket, with API keys and an
 * in-process retriever whose byte cache serves hot files from memory.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { fixtureBytes, NameSource, TEST_NAME_FORMAT } from "./_helpers/archive_fixture.ts";
import { withGatewayWorld } from "./_helpers/gateway_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { Logger } from "../core/log.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { parseApiKeys } from "../gateway/auth.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";

const KEYS = "alice:alice-secret-0123456789,meta@meta:meta-secret-0123456789";
const ALICE = { authorization: "Bearer alice-secret-0123456789" };

interface Answer {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

Deno.test({
  name: "gateway fast path: the same answers as the routed chain, hot files from memory",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const names = new NameSource();
    const files = names.manyInShard(7, 2).map((name, i) => ({
      name,
      bytes: fixtureBytes(3000 + i, i),
      contentType: "text/html",
    }));
    const lines: Record<string, unknown>[] = [];
    const world = {
      prefix: "gw-fast",
      retrieverId: "r-fast",
      shard: 7,
      files,
      retriever: { byteCache: { memoryBytes: 1024 * 1024, diskBytes: 0, dir: "" } },
    };
    await withGatewayWorld(world, async ({ retriever, routing, serve, shutdown }) => {
      const app = createGatewayApp({
        routing,
        nameFormat: TEST_NAME_FORMAT,
        apiKeys: parseApiKeys(KEYS),
        metrics: new GatewayMetrics(),
        log: new Logger("gateway", { level: "info", sink: (l) => lines.push(JSON.parse(l)) }),
      });
      const base = serve(app.fetch);
      const call = async (path: string, init: RequestInit): Promise<Answer> => {
        const res = await fetch(base + path, init);
        const body = new Uint8Array(await res.arrayBuffer());
        const headers = [...res.headers].filter(([k]) => k !== "date");
        return { status: res.status, headers, body };
      };
      // The first character percent-encoded: the same name, but not a plain path segment.
      const encoded = (name: string) => `%${name.charCodeAt(0).toString(16)}${name.slice(1)}`;
      // A problem echoes the request path in `instance` (and so differs in length): compare
      // its document with that one member set to the plain path.
      const comparable = (answer: Answer, plain: string) => {
        const type = answer.headers.find(([k]) => k === "content-type")?.[1];
        if (type !== "application/problem+json") return answer;
        const text = new TextDecoder().decode(answer.body);
        return {
          status: answer.status,
          headers: answer.headers.filter(([k]) => k !== "content-length"),
          doc: text ? { ...JSON.parse(text), instance: plain } : undefined,
        };
      };
      const both = async (name: string, init: RequestInit = {}) => {
        const fast = await call(`/files/${name}`, init);
        const routed = await call(`/files/${encoded(name)}`, init);
        assertEquals(
          comparable(fast, `/files/${name}`),
          comparable(routed, `/files/${name}`),
          `${init.method ?? "GET"} ${name} ${JSON.stringify(init)}`,
        );
        return fast;
      };
      const [a, b] = files;

      await t.step("whole files: a miss, the admitting miss, then hits from memory", async () => {
        for (let round = 0; round < 3; round++) {
          const answer = await both(a.name, { headers: ALICE });
          assertEquals(answer.status, 200);
          assertEquals(answer.body, a.bytes);
          const headers = new Map(answer.headers);
          assertEquals(headers.get("x-des-retriever"), "r-fast");
          assertEquals(headers.get("x-content-type-options"), "nosniff");
          assertEquals(headers.get("content-security-policy"), "sandbox; default-src 'none'");
          assertEquals(headers.get("cache-control"), "private, max-age=31536000, immutable");
          assertEquals(headers.get("vary"), "Authorization");
          assertEquals(headers.get("content-type"), "text/html");
        }
        assert(retriever.byteCache!.metrics.hits.get({ tier: "memory" }) >= 2);
      });

      await t.step("ranges, validators and HEAD", async () => {
        const etag = new Map((await both(a.name, { headers: ALICE })).headers).get("etag")!;
        const ranged = await both(a.name, { headers: { ...ALICE, range: "bytes=10-99" } });
        assertEquals(ranged.status, 206);
        assertEquals(ranged.body, a.bytes.subarray(10, 100));
        const suffix = await both(a.name, { headers: { ...ALICE, range: "bytes=-5" } });
        assertEquals(suffix.body, a.bytes.subarray(a.bytes.length - 5));
        const unsatisfiable = await both(a.name, { headers: { ...ALICE, range: "bytes=99999-" } });
        assertEquals(unsatisfiable.status, 416);
        const notModified = await both(a.name, { headers: { ...ALICE, "if-none-match": etag } });
        assertEquals(notModified.status, 304);
        const failed = await both(a.name, { headers: { ...ALICE, "if-match": '"other"' } });
        assertEquals(failed.status, 412);
        const staleIfRange = await both(a.name, {
          headers: { ...ALICE, range: "bytes=0-9", "if-range": '"other"' },
        });
        assertEquals(staleIfRange.status, 200);
        const head = await both(b.name, { method: "HEAD", headers: ALICE });
        assertEquals(head.status, 200);
        assertEquals(head.body.length, 0);
        assertEquals(new Map(head.headers).get("content-length"), String(b.bytes.length));
      });

      await t.step("refusals and problems: 401, 403, 400, 404", async () => {
        assertEquals((await both(a.name)).status, 401);
        const meta = { authorization: "Bearer meta-secret-0123456789" };
        assertEquals((await both(a.name, { headers: meta })).status, 403);
        assertEquals((await both("zz", { headers: ALICE })).status, 400);
        const missing = names.manyInShard(7, 1)[0];
        const notFound = await both(missing, { headers: ALICE });
        assertEquals(notFound.status, 404);
        assertEquals(new Map(notFound.headers).get("content-type"), "application/problem+json");
        assertEquals((await both(missing, { method: "HEAD", headers: ALICE })).status, 404);
      });

      await t.step("both paths write the same access log line", async () => {
        await shutdown();
        const reads = lines.filter((l) => l.msg === "request" && l.route === "getFile");
        assert(reads.length >= 20, `${reads.length} lines`);
        const alice = reads.filter((l) => l.client === "alice" && l.status === 200);
        assert(alice.length >= 6);
        for (const line of alice) {
          assertEquals(line.retriever, "r-fast");
          assertEquals(line.outcome, "complete");
          assertMatch32(line.traceId);
        }
      });
    });
  },
});

function assertMatch32(traceId: unknown): void {
  assert(typeof traceId === "string" && /^[0-9a-f]{32}$/.test(traceId), String(traceId));
}
