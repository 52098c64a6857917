/**
 * The gateway's edge under hostile and careless clients, over real HTTP
 * with a real retriever, PostgreSQL and Ceph RGW: methods other than
 * GET/HEAD, very long names, security and caching headers, key scopes,
 * `POST /names` with its body cap, rate limits per address and per key
 * through trusted proxies only, oversized `Range` values, 5xx details, and
 * an audit trail that nothing a client sends can stop.
 */

import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { fixtureBytes, NameSource, TEST_NAME_FORMAT } from "./_helpers/archive_fixture.ts";
import { withGatewayWorld } from "./_helpers/gateway_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { Logger } from "../core/log.ts";
import { PostgresDb } from "../db/postgres_db.ts";
import { createGatewayApp, type GatewayOptions } from "../gateway/app.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { parseApiKeys } from "../gateway/auth.ts";
import { parseCidrs } from "../gateway/client_address.ts";
import { HttpRetrieverTarget } from "../gateway/http_target.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";
import { TokenBucketLimiter } from "../gateway/rate_limit.ts";
import { RoutingTable } from "../gateway/routing_table.ts";
import type { ForwardRequest, RetrieverTarget } from "../gateway/target.ts";
import { NameGenerator } from "../naming/name_generator.ts";

const KEYS = [
  "reader@read:reader-secret-0123456789",
  "viewer:viewer-secret-0123456789",
  "ops@read+meta+admin:ops-secret-0123456789",
  "namer@names:namer-secret-0123456789",
].join(",");
const bearer = (who: string) => ({ authorization: `Bearer ${who}-secret-0123456789` });
const quiet = () => new Logger("gateway", { sink: () => {} });

/** A real target that remembers the headers it was asked to forward. */
class RecordingTarget implements RetrieverTarget {
  readonly forwarded: Headers[] = [];
  constructor(private readonly inner: RetrieverTarget) {}
  get id(): string {
    return this.inner.id;
  }
  get range() {
    return this.inner.range;
  }
  get location(): string {
    return this.inner.location;
  }
  forward(request: ForwardRequest): Promise<Response> {
    this.forwarded.push(new Headers(request.headers));
    return this.inner.forward(request);
  }
  ready(): Promise<string> {
    return this.inner.ready();
  }
}

/** A target whose retriever fails with a detailed 500 problem. */
class FailingTarget implements RetrieverTarget {
  readonly id = "r-fail";
  readonly range = { start: 0, end: 15 };
  readonly location = "http://10.9.8.7:8101";
  forward(): Promise<Response> {
    const body = JSON.stringify({
      status: 500,
      detail: "S3 bucket secret-bucket at http://10.9.8.7:7480 said AccessDenied",
    });
    return Promise.resolve(
      new Response(body, {
        status: 500,
        headers: { "content-type": "application/problem+json", "x-des-retriever": "r-fail" },
      }),
    );
  }
  ready(): Promise<string> {
    return Promise.resolve("ok");
  }
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 10));
}

Deno.test({
  name: "gateway hardening: methods, headers, scopes, names, limits, ranges, 5xx, audit",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const names = new NameSource();
    const files = names.manyInShard(5, 2).map((name, i) => ({
      name,
      bytes: fixtureBytes(1000 + i, i),
      contentType: "text/html",
      source: "documents",
      attrs: { owner: "finance", path: "/srv/secret/report.html" },
    }));
    const trails: AuditTrail[] = [];
    const world = { prefix: "gw-hard", retrieverId: "r-hard", shard: 5, files };
    await withGatewayWorld(world, async ({ pg, routing, serve: listen, atEnd }) => {
      atEnd(async () => {
        for (const a of trails) await a.close().catch(() => {});
      });
      const recording = new RecordingTarget(routing.owners[0]);
      const table = RoutingTable.build<RetrieverTarget>([recording], 16);
      const serve = (options: Partial<GatewayOptions>) => {
        const app = createGatewayApp({
          routing: table,
          nameFormat: TEST_NAME_FORMAT,
          log: quiet(),
          ...options,
        });
        return listen(app.fetch);
      };
      const call = async (
        base: string,
        path: string,
        init: { method?: string; headers?: Record<string, string>; body?: BodyInit } = {},
      ) => {
        const res = await fetch(`${base}${path}`, init);
        return { res, text: await res.text() };
      };
      const keys = parseApiKeys(KEYS);
      const keyed = serve({
        apiKeys: keys,
        names: new NameGenerator({ ...TEST_NAME_FORMAT, nodeId: 3 }),
        rateLimiter: new TokenBucketLimiter(1000),
      });
      const open = serve({});
      const file = `/files/${files[0].name}`;

      await t.step("POST and PUT on a file, DELETE on its meta: 405 with Allow", async () => {
        for (const base of [keyed, open]) {
          for (const method of ["POST", "PUT", "DELETE"]) {
            for (const path of method === "DELETE" ? [`${file}/meta`] : [file, `${file}/meta`]) {
              const r = await call(base, path, {
                method,
                body: method === "DELETE" ? undefined : "x",
              });
              assertEquals(r.res.status, 405, `${method} ${path}`);
              const allow = path.endsWith("/meta") ? "GET, HEAD" : "GET, HEAD, DELETE";
              assertEquals(r.res.headers.get("allow"), allow, `${method} ${path}`);
              assertEquals(r.res.headers.get("content-type"), "application/problem+json");
            }
          }
        }
      });

      await t.step("a 400 for a very long name does not echo it", async () => {
        const long = "a".repeat(5000);
        const r = await call(keyed, `/files/${long}`, { headers: bearer("reader") });
        assertEquals(r.res.status, 400);
        assert(r.text.length < 1000, `a ${r.text.length}-character problem`);
        assert(!r.text.includes("a".repeat(130)), "the name is not echoed whole");
        const missing = await call(keyed, `/nowhere/${long}`);
        assertEquals(missing.res.status, 404);
        assert(missing.text.length < 1000);
      });

      await t.step("nosniff, a sandboxing CSP, and private caching when keys are on", async () => {
        const r = await call(keyed, file, { headers: bearer("reader") });
        assertEquals(r.res.status, 200);
        assertEquals(r.res.headers.get("x-content-type-options"), "nosniff");
        assertMatch(r.res.headers.get("content-security-policy") ?? "", /\bsandbox\b/);
        assertMatch(r.res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
        assertMatch(r.res.headers.get("cache-control") ?? "", /^private\b/);
        assert(!/public/.test(r.res.headers.get("cache-control")!));
        assertMatch(r.res.headers.get("vary") ?? "", /Authorization/);
        const meta = await call(keyed, `${file}/meta`, { headers: bearer("viewer") });
        assertMatch(meta.res.headers.get("cache-control") ?? "", /^private\b/);
        const problem = await call(keyed, file);
        assertEquals(problem.res.headers.get("x-content-type-options"), "nosniff");
        const anon = await call(open, file);
        assertMatch(anon.res.headers.get("cache-control") ?? "", /^public\b/);
        assertEquals(anon.res.headers.get("x-content-type-options"), "nosniff");
        assertMatch(anon.res.headers.get("content-security-policy") ?? "", /\bsandbox\b/);
      });

      await t.step(
        "scopes: read, meta, admin per route; full metadata only for admin",
        async () => {
          assertEquals((await call(keyed, file, { headers: bearer("namer") })).res.status, 403);
          const noMeta = await call(keyed, `${file}/meta`, { headers: bearer("reader") });
          assertEquals(noMeta.res.status, 403);
          assertEquals(JSON.parse(noMeta.text).scope, "meta");
          const viewer = await call(keyed, `${file}/meta`, { headers: bearer("viewer") });
          assertEquals(viewer.res.status, 200);
          const publicDoc = JSON.parse(viewer.text);
          assertEquals(publicDoc.size, 1000);
          for (const hidden of ["container", "source", "attrs"]) {
            assert(!(hidden in publicDoc), `${hidden} is hidden without admin`);
          }
          assertEquals(
            Number(viewer.res.headers.get("content-length")),
            new TextEncoder().encode(viewer.text).byteLength,
          );
          const ops = JSON.parse(
            (await call(keyed, `${file}/meta`, { headers: bearer("ops") })).text,
          );
          assertMatch(ops.container, /^containers\//);
          assertEquals(ops.attrs.owner, "finance");
          assertEquals(ops.source, "documents");
          assertEquals(
            (await call(keyed, "/metrics", { headers: bearer("viewer") })).res.status,
            403,
          );
          assertEquals((await call(keyed, "/metrics", { headers: bearer("ops") })).res.status, 200);
          const plain = JSON.parse((await call(keyed, "/readyz")).text);
          assertEquals(plain, { status: "ready" });
          const detailed = JSON.parse(
            (await call(keyed, "/readyz", { headers: bearer("ops") })).text,
          );
          assertEquals(detailed, { status: "ready", checks: { "retriever:r-hard": "ok" } });
          assertEquals((await call(keyed, "/healthz")).text, '{"status":"ok"}');
        },
      );

      await t.step("POST /names: scope names, body cap 413, in the OpenAPI document", async () => {
        const post = (headers: Record<string, string>, body: BodyInit) =>
          call(keyed, "/names", { method: "POST", headers, body });
        assertEquals((await post({}, '{"count":1}')).res.status, 401);
        assertEquals((await post(bearer("reader"), '{"count":1}')).res.status, 403);
        const ok = await post(bearer("namer"), '{"count":3}');
        assertEquals(ok.res.status, 200);
        assertEquals(JSON.parse(ok.text).names.length, 3);
        const big = await post(
          bearer("namer"),
          JSON.stringify({ count: 1, pad: "x".repeat(5000) }),
        );
        assertEquals(big.res.status, 413);
        assertEquals(big.res.headers.get("content-type"), "application/problem+json");
        const chunks = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512).fill(0x20));
            controller.close();
          },
        });
        assertEquals((await post(bearer("namer"), chunks)).res.status, 413, "streamed body");
        const bad = await post(bearer("namer"), '{"count":0}');
        assertEquals(bad.res.status, 400);
        const doc = JSON.parse((await call(keyed, "/openapi.json")).text);
        assertEquals(doc.paths["/names"].post.security, [{ apiKey: ["names"] }]);
        assert(!("/names" in JSON.parse((await call(open, "/openapi.json")).text).paths));
        assertEquals((await call(open, "/names", { method: "POST", body: "{}" })).res.status, 404);
      });

      await t.step("rate limit per address before authentication, then per key", async () => {
        const limited = serve({
          apiKeys: keys,
          addressRateLimiter: new TokenBucketLimiter(0.01, { burst: 3 }),
          rateLimiter: new TokenBucketLimiter(0.01, { burst: 1 }),
        });
        const wrong = { authorization: "Bearer not-a-key-not-a-key" };
        assertEquals((await call(limited, file, { headers: wrong })).res.status, 401);
        assertEquals((await call(limited, file, { headers: wrong })).res.status, 401);
        assertEquals((await call(limited, file, { headers: bearer("reader") })).res.status, 200);
        const fourth = await call(limited, file, { headers: bearer("viewer") });
        assertEquals(fourth.res.status, 429, "wrong keys used up the address's tokens");
        assert(Number(fourth.res.headers.get("retry-after")) >= 1);
        const perKey = serve({
          apiKeys: keys,
          addressRateLimiter: new TokenBucketLimiter(0.01, { burst: 10 }),
          rateLimiter: new TokenBucketLimiter(0.01, { burst: 1 }),
        });
        assertEquals((await call(perKey, file, { headers: bearer("reader") })).res.status, 200);
        assertEquals((await call(perKey, file, { headers: bearer("reader") })).res.status, 429);
        assertEquals((await call(perKey, file, { headers: bearer("viewer") })).res.status, 200);
      });

      await t.step(
        "forwarded clients count only through trusted proxies; IPv6 by /64",
        async () => {
          const viaProxy = serve({
            addressRateLimiter: new TokenBucketLimiter(0.01, { burst: 1 }),
            trustedProxies: parseCidrs("127.0.0.0/8"),
          });
          const from = (xff: string) =>
            call(viaProxy, file, { headers: { "x-forwarded-for": xff } });
          assertEquals((await from("198.51.100.7")).res.status, 200);
          assertEquals((await from("198.51.100.7")).res.status, 429);
          assertEquals((await from("198.51.100.8")).res.status, 200);
          assertEquals((await from("2001:db8:1:2::1")).res.status, 200);
          assertEquals((await from("2001:db8:1:2:ffff::9")).res.status, 429, "same /64");
          assertEquals((await from("2001:db8:1:3::1")).res.status, 200, "another /64");
          const fwd = await call(viaProxy, file, {
            headers: { forwarded: 'for="[2001:db8:9::1]:4711"' },
          });
          assertEquals(fwd.res.status, 200);
          const direct = serve({ addressRateLimiter: new TokenBucketLimiter(0.01, { burst: 1 }) });
          const spoof = (xff: string) =>
            call(direct, file, { headers: { "x-forwarded-for": xff } });
          assertEquals((await spoof("203.0.113.1")).res.status, 200);
          assertEquals((await spoof("203.0.113.2")).res.status, 429, "an untrusted peer's header");
        },
      );

      await t.step(
        "an oversized Range is dropped at the gateway, a normal one forwarded",
        async () => {
          recording.forwarded.length = 0;
          const huge = `bytes=0-${" ".repeat(8 * 1024)}9`;
          const r = await call(open, file, { headers: { range: huge, "if-range": '"x"' } });
          assertEquals(r.res.status, 200);
          assertEquals(r.res.headers.get("content-length"), "1000");
          assertEquals(recording.forwarded.at(-1)!.get("range"), null);
          assertEquals(recording.forwarded.at(-1)!.get("if-range"), null);
          const part = await call(open, file, { headers: { range: "bytes=0-9" } });
          assertEquals(part.res.status, 206);
          assertEquals(recording.forwarded.at(-1)!.get("range"), "bytes=0-9");
        },
      );

      await t.step("5xx answers carry no internal details", async () => {
        const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const deadPort = (closed.addr as Deno.NetAddr).port;
        closed.close();
        for (
          const target of [
            new HttpRetrieverTarget("r-secret-id", `http://127.0.0.1:${deadPort}`, {
              start: 0,
              end: 15,
            }),
            new FailingTarget(),
          ]
        ) {
          const base = serve({ routing: RoutingTable.build<RetrieverTarget>([target], 16) });
          const r = await call(base, file);
          assert(r.res.status >= 500, String(r.res.status));
          for (const secret of ["127.0.0.1", String(deadPort), "r-secret-id", "10.9.8.7", "S3"]) {
            assert(!r.text.includes(secret), `${secret} leaked: ${r.text}`);
          }
          assertEquals(r.res.headers.get("content-type"), "application/problem+json");
        }
      });

      await t.step("a NUL or broken UTF-8 in the path cannot stop the audit", async () => {
        const metrics = new GatewayMetrics();
        const audit = new AuditTrail(pg.db, { flushMs: 60_000, metrics });
        trails.push(audit);
        const audited = serve({ apiKeys: keys, audit, metrics });
        for (const path of ["/files/a%00b", "/files/%ff%fe", "/files/a%00b/meta", file]) {
          await call(audited, path);
        }
        await call(audited, file, { headers: bearer("reader") });
        await until(() => audit.pending === 5);
        await audit.flush();
        await call(audited, file, { headers: bearer("viewer") });
        await until(() => audit.pending === 1);
        await audit.flush();
        assertEquals(audit.pending, 0);
        assert(audit.healthy);
        const rows = await pg.db.query<{ name: string; status: number; client: string }>(
          "select name, status, client from des_read_audit order by id",
        );
        assertEquals(rows.map((r) => r.name), [
          "a%00b",
          "%ff%fe",
          "a%00b",
          files[0].name,
          files[0].name,
          files[0].name,
        ]);
        assertEquals(rows.map((r) => r.status), [401, 401, 401, 401, 200, 200]);
        assertEquals(rows.at(-1)!.client, "viewer");
        assertEquals(metrics.auditWritten.get(), 6);
      });

      await t.step(
        "a row the database refuses is dead-lettered; the rows after it are written",
        async () => {
          const metrics = new GatewayMetrics();
          const audit = new AuditTrail(pg.db, { flushMs: 60_000, metrics });
          trails.push(audit);
          const row = (status: number, name: string) => ({
            at: new Date(),
            method: "GET",
            route: "getFile",
            name,
            status,
            bytes: 0,
            client: "dead-letter-test",
            traceId: null,
          });
          audit.record(row(200, "before"));
          audit.record(row(70_000, "refused")); // does not fit the smallint status column
          audit.record(row(200, "after"));
          await audit.flush();
          assertEquals(audit.pending, 0);
          assert(audit.healthy);
          const kept = await pg.db.query<{ name: string }>(
            "select name from des_read_audit where client = 'dead-letter-test' order by id",
          );
          assertEquals(kept.map((r) => r.name), ["before", "after"]);
          const rejected = await pg.db.query<{ row_json: string; error: string }>(
            "select row_json, error from des_read_audit_rejected",
          );
          assertEquals(rejected.length, 1);
          assertEquals(JSON.parse(rejected[0].row_json).name, "refused");
          assertMatch(rejected[0].error, /^22003/);
          assertEquals(metrics.auditRejected.get(), 1);
          audit.record(row(200, "later"));
          await audit.flush();
          assertEquals(audit.pending, 0);
        },
      );

      await t.step("DES_GATEWAY_AUDIT_REQUIRED: 503 while the audit cannot record", async () => {
        const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const deadPort = (closed.addr as Deno.NetAddr).port;
        closed.close();
        const down = new PostgresDb(`postgres://postgres@127.0.0.1:${deadPort}/nowhere`, {
          connectTimeoutSeconds: 1,
        });
        const metrics = new GatewayMetrics();
        const lost = new AuditTrail(down, { flushMs: 60_000, metrics });
        trails.push(lost);
        const required = serve({ apiKeys: keys, audit: lost, auditRequired: true, metrics });
        assertEquals((await call(required, file, { headers: bearer("reader") })).res.status, 200);
        await until(() => lost.pending === 1);
        await lost.flush();
        assert(!lost.healthy, "the trail knows its database is down");
        const refused = await call(required, file, { headers: bearer("reader") });
        assertEquals(refused.res.status, 503);
        assertEquals(refused.res.headers.get("retry-after"), "5");
        assert(!refused.text.includes(String(deadPort)));
        assertEquals(metrics.auditRefused.get(), 1);
        const ready = await call(required, "/readyz", { headers: bearer("ops") });
        assertEquals(ready.res.status, 503);
        assertMatch(JSON.parse(ready.text).checks.audit, /unavailable/);
        assertEquals((await call(required, "/healthz")).res.status, 200);

        const slow = new AuditTrail(pg.db, { flushMs: 60_000, healthyPending: 2 });
        trails.push(slow);
        const bounded = serve({ audit: slow, auditRequired: true });
        assertEquals((await call(bounded, file)).res.status, 200);
        assertEquals((await call(bounded, file)).res.status, 200);
        await until(() => slow.pending === 2);
        assertEquals((await call(bounded, file)).res.status, 503, "too many rows waiting");
        await until(() => slow.pending === 3);
        await slow.flush();
        assertEquals((await call(bounded, file)).res.status, 200, "written: served again");
        const best = serve({ audit: lost });
        assertEquals((await call(best, file)).res.status, 200, "best-effort mode serves");
        await lost.close();
        await down.close();
      });
    });
  },
});
