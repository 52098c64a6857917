/**
 * The gateway's edge over real HTTP with in-process and HTTP retrievers, a
 * real PostgreSQL catalog/audit and a real Ceph RGW bucket: API keys (401),
 * rate limit (429), audit rows, trace propagation, name validation before
 * lookup, 503 for an unreachable or wrong retriever, OpenAPI and probes.
 */

import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { fixtureBytes, NameSource, TEST_NAME_FORMAT } from "./_helpers/archive_fixture.ts";
import { withGatewayWorld } from "./_helpers/gateway_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { Logger } from "../core/log.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { parseApiKeys } from "../gateway/auth.ts";
import { HttpRetrieverTarget } from "../gateway/http_target.ts";
import { GatewayMetrics } from "../gateway/metrics.ts";
import { TokenBucketLimiter } from "../gateway/rate_limit.ts";
import { RoutingTable } from "../gateway/routing_table.ts";
import type { RetrieverTarget } from "../gateway/target.ts";
import { createRetrieverApp } from "../retriever/app.ts";

const KEYS =
  "alice:alice-secret-0123456789,bob:bob-secret-0123456789,ops@admin:ops-secret-0123456789";
const TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/** Wait (bounded) until `condition` holds; the caller asserts afterwards. */
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 5));
}

Deno.test({
  name: "gateway edge: auth, rate limit, audit, tracing, validation, 503",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const names = new NameSource();
    const files = names.manyInShard(3, 3).map((name, i) => ({
      name,
      bytes: fixtureBytes(2000 + i, i),
      contentType: "application/pdf",
    }));
    const logLines: Record<string, unknown>[] = [];
    const sink = (line: string) => logLines.push(JSON.parse(line));
    await withGatewayWorld({
      prefix: "gw-edge",
      retrieverId: "r-edge",
      shard: 3,
      files,
      retriever: { log: new Logger("retriever", { sink, level: "info" }) },
    }, async ({ pg, retriever, routing, serve }) => {
      const metrics = new GatewayMetrics();
      const audit = new AuditTrail(pg.db, { flushMs: 60_000, metrics });
      const gateway = serve(
        createGatewayApp({
          routing,
          nameFormat: TEST_NAME_FORMAT,
          apiKeys: parseApiKeys(KEYS),
          audit,
          metrics,
          log: new Logger("gateway", { sink, level: "info" }),
        }).fetch,
      );
      const auth = { authorization: "Bearer alice-secret-0123456789" };
      const admin = { authorization: "Bearer ops-secret-0123456789" };
      const get = async (
        base: string,
        path: string,
        headers: Record<string, string> = {},
        method = "GET",
      ) => {
        const res = await fetch(`${base}${path}`, { headers, method });
        return { res, body: new Uint8Array(await res.arrayBuffer()) };
      };

      await t.step(
        "API keys: 401 without or with a wrong key, 200 with one; probes stay open",
        async () => {
          const none = await get(gateway, `/files/${files[0].name}`);
          assertEquals(none.res.status, 401);
          assertEquals(none.res.headers.get("content-type"), "application/problem+json");
          assertEquals(none.res.headers.get("www-authenticate"), 'Bearer realm="des"');
          const wrong = await get(gateway, `/files/${files[0].name}`, {
            authorization: "Bearer nope",
          });
          assertEquals(wrong.res.status, 401);
          const ok = await get(gateway, `/files/${files[0].name}`, auth);
          assertEquals(ok.res.status, 200);
          assertEquals(ok.body, files[0].bytes);
          assertEquals(ok.res.headers.get("x-des-retriever"), "r-edge");
          assertEquals(ok.res.headers.get("content-type"), "application/pdf");
          for (const path of ["/healthz", "/openapi.json", "/readyz"]) {
            assertEquals((await get(gateway, path)).res.status, 200, path);
          }
          assertEquals((await get(gateway, "/metrics")).res.status, 401);
          assertEquals((await get(gateway, "/metrics", auth)).res.status, 403);
          assertEquals((await get(gateway, "/metrics", admin)).res.status, 200);
        },
      );

      await t.step("ranges, conditionals and HEAD pass through", async () => {
        const part = await get(gateway, `/files/${files[1].name}`, { ...auth, range: "bytes=-10" });
        assertEquals(part.res.status, 206);
        assertEquals(part.body, files[1].bytes.slice(-10));
        assertEquals(part.res.headers.get("content-range"), "bytes 1991-2000/2001");
        const etag = part.res.headers.get("etag")!;
        const notModified = await get(gateway, `/files/${files[1].name}`, {
          ...auth,
          "if-none-match": etag,
        });
        assertEquals(notModified.res.status, 304);
        const head = await get(gateway, `/files/${files[1].name}`, auth, "HEAD");
        assertEquals(head.res.status, 200);
        assertEquals(head.res.headers.get("content-length"), "2001");
        assertEquals(head.body.byteLength, 0);
        const meta = await get(gateway, `/files/${files[1].name}/meta`, auth);
        assertEquals(JSON.parse(new TextDecoder().decode(meta.body)).size, 2001);
      });

      await t.step("a malformed name is a 400 before any lookup", async () => {
        const before = retriever.metrics.reads.get({ method: "GET", kind: "file", status: 400 });
        const lookups = logLines.filter((l) => l.component === "retriever").length;
        const bad = await get(gateway, "/files/not-a-name", auth);
        assertEquals(bad.res.status, 400);
        assertEquals(bad.res.headers.get("content-type"), "application/problem+json");
        assertEquals(
          retriever.metrics.reads.get({ method: "GET", kind: "file", status: 400 }),
          before,
        );
        assertEquals(logLines.filter((l) => l.component === "retriever").length, lookups);
        const unknown = await get(gateway, `/files/${names.inShard(3)}`, auth);
        assertEquals(unknown.res.status, 404);
      });

      await t.step(
        "traceparent: continued by the gateway, propagated, logged by both",
        async () => {
          logLines.length = 0;
          const res = await get(gateway, `/files/${files[2].name}`, {
            ...auth,
            traceparent: TRACE,
          });
          assertEquals(res.res.status, 200);
          const traceId = TRACE.split("-")[1];
          // The gateway logs once the server reports the response delivered.
          await until(() => logLines.some((l) => l.component === "gateway"));
          const gw = logLines.filter((l) => l.component === "gateway" && l.msg === "request");
          const rt = logLines.filter((l) => l.component === "retriever" && l.msg === "read");
          assertEquals(gw.length, 1);
          assertEquals(rt.length, 1);
          assertEquals(gw[0].traceId, traceId);
          assertEquals(rt[0].traceId, traceId);
          assertEquals(gw[0].client, "alice");
          assertEquals(gw[0].bytes, files[2].bytes.byteLength);
          logLines.length = 0;
          await get(gateway, `/files/${files[2].name}`, auth);
          await until(() => logLines.some((l) => l.component === "gateway"));
          const fresh = logLines.find((l) => l.component === "gateway")!;
          assertMatch(String(fresh.traceId), /^[0-9a-f]{32}$/);
          assert(fresh.traceId !== traceId);
          assertEquals(logLines.find((l) => l.component === "retriever")!.traceId, fresh.traceId);
        },
      );

      await t.step("audit rows: method, route, name, status, bytes, client, trace id", async () => {
        await until(() => metrics.auditPending.get() > 0);
        await audit.close();
        const rows = await pg.db.query<
          {
            method: string;
            route: string;
            name: string;
            status: number;
            bytes: number;
            client: string;
            trace_id: string;
          }
        >(
          "select method, route, name, status, bytes, client, trace_id from des_read_audit order by id",
        );
        assert(rows.length >= 8, `only ${rows.length} audit rows`);
        const traced = rows.find((r) => r.trace_id === TRACE.split("-")[1])!;
        assertEquals(traced.name, files[2].name);
        assertEquals(traced.status, 200);
        assertEquals(Number(traced.bytes), files[2].bytes.byteLength);
        assertEquals(traced.client, "alice");
        assertEquals([traced.method, traced.route], ["GET", "getFile"]);
        assert(rows.some((r) => r.method === "HEAD" && r.route === "headFile"));
        assert(rows.some((r) => r.route === "getFileMeta"));
        assert(rows.some((r) => r.status === 401), "401s are audited");
        assert(rows.some((r) => r.status === 400 && r.name === "not-a-name"));
        assert(rows.some((r) => r.status === 206 && Number(r.bytes) === 10));
        assertEquals(metrics.auditWritten.get(), rows.length);
      });

      await t.step("rate limit: 429 with Retry-After once a client's bucket is empty", async () => {
        const limited = serve(
          createGatewayApp({
            routing,
            nameFormat: TEST_NAME_FORMAT,
            apiKeys: parseApiKeys(KEYS),
            rateLimiter: new TokenBucketLimiter(0.01, { burst: 2 }),
            log: new Logger("gateway", { sink: () => {} }),
          }).fetch,
        );
        const path = `/files/${files[0].name}`;
        assertEquals((await get(limited, path, auth)).res.status, 200);
        assertEquals((await get(limited, path, auth)).res.status, 200);
        const third = await get(limited, path, auth);
        assertEquals(third.res.status, 429);
        assertEquals(third.res.headers.get("content-type"), "application/problem+json");
        assert(Number(third.res.headers.get("retry-after")) >= 1);
        const bob = await get(limited, path, { authorization: "Bearer bob-secret-0123456789" });
        assertEquals(bob.res.status, 200, "other clients are not limited");
      });

      await t.step(
        "an unreachable or wrong retriever is a 503 with Retry-After, never a file",
        async () => {
          const retrieverUrl = serve(createRetrieverApp(retriever).fetch);
          const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const deadPort = (closed.addr as Deno.NetAddr).port;
          closed.close();
          const range = { start: 0, end: 15 };
          for (
            const target of [
              new HttpRetrieverTarget("r-edge", `http://127.0.0.1:${deadPort}`, range),
              new HttpRetrieverTarget("someone-else", retrieverUrl, range),
            ]
          ) {
            const app = serve(
              createGatewayApp({
                routing: RoutingTable.build<RetrieverTarget>([target], 16),
                nameFormat: TEST_NAME_FORMAT,
                log: new Logger("gateway", { sink: () => {} }),
              }).fetch,
            );
            const r = await get(app, `/files/${files[0].name}`);
            assertEquals(r.res.status, 503, target.location);
            assertEquals(r.res.headers.get("retry-after"), "5");
            assertEquals(r.res.headers.get("content-type"), "application/problem+json");
            assertEquals((await get(app, "/readyz")).res.status, 503);
          }
          const good = serve(
            createGatewayApp({
              routing: RoutingTable.build<RetrieverTarget>(
                [new HttpRetrieverTarget("r-edge", retrieverUrl, range)],
                16,
              ),
              nameFormat: TEST_NAME_FORMAT,
              log: new Logger("gateway", { sink: () => {} }),
            }).fetch,
          );
          const r = await get(good, `/files/${files[0].name}`, { range: "bytes=0-99" });
          assertEquals(r.res.status, 206);
          assertEquals(r.body, files[0].bytes.slice(0, 100));
          assertEquals(r.res.headers.get("x-des-retriever"), "r-edge");
          const head = await get(good, `/files/${files[0].name}`, {}, "HEAD");
          assertEquals(head.res.headers.get("content-length"), "2000");
        },
      );

      await t.step("OpenAPI document and metrics", async () => {
        const doc = JSON.parse(
          new TextDecoder().decode((await get(gateway, "/openapi.json")).body),
        );
        assertEquals(doc.openapi, "3.1.0");
        assert(doc.paths["/files/{name}"].get && doc.paths["/files/{name}"].head);
        const text = new TextDecoder().decode((await get(gateway, "/metrics", admin)).body);
        assert(text.includes('des_gateway_requests_total{route="getFile",status="200"}'));
        assert(text.includes('des_gateway_requests_total{route="getFile",status="401"}'));
        assert(text.includes("des_gateway_request_seconds_bucket"));
        assert(text.includes('des_gateway_response_bytes_total{route="getFile"}'));
      });
    });
  },
});
