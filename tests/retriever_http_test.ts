/**
 * The HTTP semantics matrix of the retriever, over real HTTP, against a
 * real PostgreSQL catalog and a real Ceph RGW bucket.
 */

import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import {
  commitContainer,
  fetchGetStore,
  fixtureBytes,
  NameSource,
  startTestRetriever,
} from "./_helpers/archive_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store } from "./_helpers/s3.ts";
import { createRetrieverApp } from "../retriever/app.ts";
import type { Retriever } from "../retriever/retriever.ts";
import { sha256 } from "../format/checksum.ts";
import { toHex } from "../format/binary.ts";

const MTIME = Date.UTC(2023, 4, 6, 7, 8, 9);
const LAST_MODIFIED = "Sat, 06 May 2023 07:08:09 GMT";

interface Got {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

Deno.test({
  name: "retriever HTTP semantics: status, headers and bytes",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const names = new NameSource();
    const text = {
      name: names.inShard(3),
      bytes: fixtureBytes(1000, 3),
      contentType: "text/plain",
    };
    const empty = { name: names.inShard(3), bytes: new Uint8Array(0) };
    const big = { name: names.inShard(3), bytes: fixtureBytes(5000, 9), contentType: "image/png" };
    const files = [text, empty, big].map((f) => ({ ...f, mtime: MTIME }));
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("ret-http");
    const kvDir = await Deno.makeTempDir({ prefix: "des-ret-http-" });
    let retriever: Retriever | undefined;
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;
    try {
      await commitContainer(pg.db, store, {
        shard: 3,
        files,
        bucket: store.bucket,
        bigFileThreshold: 4096,
      });
      const reads = fetchGetStore(store);
      retriever = await startTestRetriever(pg.db, store, {
        id: "r-http",
        reads,
        kvPath: `${kvDir}/cache.kv`,
      });
      server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        createRetrieverApp(retriever).fetch,
      );
      const base = `http://127.0.0.1:${server.addr.port}`;
      const get = async (
        path: string,
        headers: Record<string, string> = {},
        method = "GET",
      ): Promise<Got> => {
        const res = await fetch(`${base}${path}`, { method, headers });
        return {
          status: res.status,
          headers: res.headers,
          body: new Uint8Array(await res.arrayBuffer()),
        };
      };
      const etag = `"${toHex(sha256(text.bytes))}"`;
      const path = `/files/${text.name}`;

      await t.step("no Range: 200 with every validator and header", async () => {
        const r = await get(path);
        assertEquals(r.status, 200);
        assertEquals(r.body, text.bytes);
        assertEquals(r.headers.get("content-length"), "1000");
        assertEquals(r.headers.get("content-type"), "text/plain");
        assertEquals(r.headers.get("etag"), etag);
        assertEquals(r.headers.get("last-modified"), LAST_MODIFIED);
        assertEquals(r.headers.get("accept-ranges"), "bytes");
        assertEquals(r.headers.get("cache-control"), "public, max-age=31536000, immutable");
        assertEquals(r.headers.get("x-des-retriever"), "r-http");
        assertEquals(r.headers.get("content-range"), null);
      });

      await t.step("bytes=0-0, bytes=-1, bytes=5-: 206 with Content-Range", async () => {
        const cases: [string, number, number][] = [
          ["bytes=0-0", 0, 0],
          ["bytes=-1", 999, 999],
          ["bytes=5-", 5, 999],
          ["bytes=10-19", 10, 19],
          ["bytes=990-5000", 990, 999],
        ];
        for (const [range, start, end] of cases) {
          const r = await get(path, { range });
          assertEquals(r.status, 206, range);
          assertEquals(r.headers.get("content-range"), `bytes ${start}-${end}/1000`, range);
          assertEquals(r.headers.get("content-length"), String(end - start + 1), range);
          assertEquals(r.headers.get("etag"), etag, range);
          assertEquals(r.body, text.bytes.slice(start, end + 1), range);
        }
      });

      await t.step("past-end start and reversed range: 416 with bytes */size", async () => {
        for (const range of ["bytes=1000-", "bytes=5000-6000", "bytes=9-3", "bytes=-0"]) {
          const r = await get(path, { range });
          assertEquals(r.status, 416, range);
          assertEquals(r.headers.get("content-range"), "bytes */1000", range);
          assertEquals(r.headers.get("content-type"), "application/problem+json", range);
          assertEquals(JSON.parse(new TextDecoder().decode(r.body)).status, 416);
        }
      });

      await t.step("garbage and multi-range headers are ignored: 200, whole file", async () => {
        for (const range of ["garbage", "bytes=abc", "bytes=1-2-3", "items=0-1", "bytes=0-1,5-6"]) {
          const r = await get(path, { range });
          assertEquals(r.status, 200, range);
          assertEquals(r.body, text.bytes, range);
          assertEquals(r.headers.get("content-range"), null, range);
        }
      });

      await t.step("If-None-Match hit (strong, weak, *) → 304; miss → 200", async () => {
        for (const inm of [etag, `W/${etag}`, `"x", ${etag}`, "*"]) {
          const r = await get(path, { "if-none-match": inm });
          assertEquals(r.status, 304, inm);
          assertEquals(r.body.byteLength, 0);
          assertEquals(r.headers.get("etag"), etag);
          assertEquals(r.headers.get("last-modified"), LAST_MODIFIED);
        }
        const miss = await get(path, { "if-none-match": '"nope"' });
        assertEquals(miss.status, 200);
        assertEquals(miss.body, text.bytes);
      });

      await t.step("If-Modified-Since / If-Unmodified-Since / If-Match", async () => {
        assertEquals((await get(path, { "if-modified-since": LAST_MODIFIED })).status, 304);
        assertEquals(
          (await get(path, { "if-modified-since": "Fri, 05 May 2023 00:00:00 GMT" })).status,
          200,
        );
        const ius = await get(path, { "if-unmodified-since": "Fri, 05 May 2023 00:00:00 GMT" });
        assertEquals(ius.status, 412);
        assertEquals(ius.headers.get("content-type"), "application/problem+json");
        assertEquals((await get(path, { "if-match": '"nope"' })).status, 412);
        assertEquals((await get(path, { "if-match": etag })).status, 200);
      });

      await t.step("If-Range match → 206, mismatch → 200 full", async () => {
        const match = await get(path, { range: "bytes=0-9", "if-range": etag });
        assertEquals(match.status, 206);
        assertEquals(match.body, text.bytes.slice(0, 10));
        const byDate = await get(path, { range: "bytes=0-9", "if-range": LAST_MODIFIED });
        assertEquals(byDate.status, 206);
        const mismatch = await get(path, { range: "bytes=0-9", "if-range": '"other"' });
        assertEquals(mismatch.status, 200);
        assertEquals(mismatch.body, text.bytes);
        const weak = await get(path, { range: "bytes=0-9", "if-range": `W/${etag}` });
        assertEquals(weak.status, 200);
      });

      await t.step("HEAD: headers of GET, explicit Content-Length, no body", async () => {
        const r = await get(path, {}, "HEAD");
        assertEquals(r.status, 200);
        assertEquals(r.headers.get("content-length"), "1000");
        assertEquals(r.headers.get("etag"), etag);
        assertEquals(r.headers.get("content-type"), "text/plain");
        assertEquals(r.headers.get("x-des-retriever"), "r-http");
        assertEquals(r.body.byteLength, 0);
        assertEquals((await get(path, { "if-none-match": etag }, "HEAD")).status, 304);
      });

      await t.step("unknown name → 404, malformed name → 400, both problem+json", async () => {
        const unknown = await get(`/files/${names.inShard(3)}`);
        assertEquals(unknown.status, 404);
        assertEquals(unknown.headers.get("content-type"), "application/problem+json");
        const problem = JSON.parse(new TextDecoder().decode(unknown.body));
        assertEquals(problem.status, 404);
        assertMatch(problem.type, /not-found/);
        for (const bad of ["not-a-name", text.name.toUpperCase(), `${text.name}x`, "%ZZ"]) {
          const r = await get(`/files/${bad}`);
          assertEquals(r.status, 400, bad);
          assertEquals(r.headers.get("content-type"), "application/problem+json", bad);
        }
        assertEquals((await get(`/files/${names.inShard(3)}`, {}, "HEAD")).status, 404);
        assertEquals((await get(path, {}, "PUT")).status, 405);
        // Without a hop token a retriever takes no deletes: they come through the gateway.
        assertEquals((await get(path, {}, "DELETE")).status, 403);
      });

      await t.step("0-byte file: 200 empty, ranges from 0 ignored, others 416", async () => {
        const p = `/files/${empty.name}`;
        const r = await get(p);
        assertEquals(r.status, 200);
        assertEquals(r.headers.get("content-length"), "0");
        assertEquals(r.body.byteLength, 0);
        assertEquals(r.headers.get("etag"), `"${toHex(sha256(new Uint8Array(0)))}"`);
        assertEquals((await get(p, { range: "bytes=0-0" })).status, 200);
        assertEquals((await get(p, { range: "bytes=-1" })).status, 200);
        const past = await get(p, { range: "bytes=1-" });
        assertEquals(past.status, 416);
        assertEquals(past.headers.get("content-range"), "bytes */0");
        const head = await get(p, {}, "HEAD");
        assertEquals([head.status, head.headers.get("content-length")], [200, "0"]);
      });

      await t.step("big (external) file: whole, ranged, HEAD", async () => {
        const p = `/files/${big.name}`;
        const r = await get(p);
        assertEquals(r.status, 200);
        assertEquals(r.body, big.bytes);
        assertEquals(r.headers.get("content-type"), "image/png");
        const part = await get(p, { range: "bytes=4000-" });
        assertEquals(part.status, 206);
        assertEquals(part.headers.get("content-range"), "bytes 4000-4999/5000");
        assertEquals(part.body, big.bytes.slice(4000));
        const head = await get(p, {}, "HEAD");
        assertEquals(head.headers.get("content-length"), "5000");
      });

      await t.step("GET /files/{name}/meta: JSON document", async () => {
        const r = await get(`${path}/meta`);
        assertEquals(r.status, 200);
        assertEquals(r.headers.get("content-type"), "application/json");
        const meta = JSON.parse(new TextDecoder().decode(r.body));
        assertEquals(meta.name, text.name);
        assertEquals(meta.size, 1000);
        assertEquals(meta.sha256, toHex(sha256(text.bytes)));
        assertMatch(meta.crc32c, /^[0-9a-f]{8}$/);
        assertEquals(meta.contentType, "text/plain");
        assertEquals(meta.mtime, new Date(MTIME).toISOString());
        assertEquals(meta.shard, 3);
        assertMatch(meta.container, /^containers\/0003\/[0-9a-f]{32}\.des$/);
        assertEquals((await get(`/files/${names.inShard(3)}/meta`)).status, 404);
      });

      await t.step("health, readiness and metrics", async () => {
        assertEquals((await get("/healthz")).status, 200);
        const ready = await get("/readyz");
        assertEquals(ready.status, 200, new TextDecoder().decode(ready.body));
        const metrics = new TextDecoder().decode((await get("/metrics")).body);
        assert(
          metrics.includes('des_retriever_reads_total{kind="file",method="GET",status="206"}'),
        );
        assert(metrics.includes("des_retriever_s3_requests_per_read_bucket"));
        assert(metrics.includes('des_retriever_index_lookups_total{tier="memory"}'));
      });
    } finally {
      await server?.shutdown();
      await retriever?.close();
      await removeTestS3Store(store);
      await pg.drop();
      await Deno.remove(kvDir, { recursive: true });
    }
  },
});
