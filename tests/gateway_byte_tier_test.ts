/**
 * The gateway's byte tier end to end, on a real PostgreSQL catalog and the
 * S3 server: a gateway with the tier (API keys, audit) and a reference
 * gateway without it, both in front of the same retriever over HTTP (byte
 * cache off, so every read it answers is one S3 request). A file enters the
 * tier on its second read; from then on GET, HEAD, ranges and conditional
 * requests are answered with no hop and no S3 request, byte- and
 * header-identical to the retriever's answers, still audited. A delete
 * through the gateway, a tombstone written straight into the catalog and a
 * damaged-file record each turn the hot name into 410 / 502; a scan of ten
 * times the budget keeps the tier under it; a retired container flushes
 * it; and once the tier's DB subscription is lost, nothing is answered
 * from memory.
 */

import { Logger } from "../core/log.ts";
import { recordDamagedFile } from "../db/damaged_files.ts";
import { openDb } from "../db/open_db.ts";
import { addTombstone } from "../db/tombstones.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { parseApiKeys } from "../gateway/auth.ts";
import { GatewayByteTier } from "../gateway/byte_tier.ts";
import { HttpRetrieverTarget } from "../gateway/http_target.ts";
import { hopTargetOptions } from "../gateway/retriever_hop.ts";
import { RoutingTable } from "../gateway/routing_table.ts";
import { TierNames } from "../gateway/tier_names.ts";
import { createRetrieverApp } from "../retriever/app.ts";
import { RETIRED_CHANNEL } from "../retriever/catalog_sync.ts";
import {
  commitContainer,
  startTestRetriever,
  TEST_NAME_FORMAT,
} from "./_helpers/archive_fixture.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { withCountedWorld } from "./_helpers/counted_world.ts";
import { TEST_DATABASE_URL } from "./_helpers/pg.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { TcpProxy } from "./_helpers/tcp_proxy.ts";
import { until } from "./_helpers/until.ts";

const TOKEN = "hop-token-0123456789abcdef0123";
const ADMIN = "admin-secret-0123456789";
/** A generous bound: NOTIFY arrives within a second; this only catches a hang. */
const PROPAGATION_BOUND_MS = 15_000;
const SHARD = 3;
const SCAN_BUDGET = 32 * 1024;

/** Status, headers (but `Date`) and body of a response. */
async function snapshot(res: Response) {
  return {
    status: res.status,
    headers: [...res.headers].filter(([k]) => k !== "date"),
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

Deno.test({
  name: "gateway byte tier: no hop for hot files, identical answers, never a deleted byte",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await withCountedWorld("gateway-tier", async ({ pg, store, reads, counter, names }) => {
      const closers: (() => Promise<unknown> | void)[] = [];
      try {
        const files = names.filesInShard(SHARD, 8, 3000);
        const scanned = names.filesInShard(SHARD, 80, 4096);
        const committed = await commitContainer(pg.db, store, {
          shard: SHARD,
          files: [...files, ...scanned],
          bucket: store.bucket,
        });
        const retriever = await startTestRetriever(pg.db, store, {
          id: "r-owner",
          reads,
          log: new Logger("retriever", { level: "error" }),
        });
        closers.push(() => retriever.close());
        const retrieverApp = createRetrieverApp(retriever, { token: TOKEN });
        let hops = 0;
        const serve = (handler: (r: Request) => Promise<Response>) => {
          const server = Deno.serve(
            { port: 0, hostname: "127.0.0.1", onListen: () => {} },
            handler,
          );
          closers.push(() => server.shutdown());
          return `http://127.0.0.1:${server.addr.port}`;
        };
        const counted = serve((r) => {
          hops++;
          return retrieverApp.fetch(r);
        });
        const plain = serve((r) => retrieverApp.fetch(r));
        // The gateways with a tier reach the retriever as `deno task gateway` does (its pool of
        // HTTP/1.1 connections); the reference gateway through `fetch`.
        const hop = hopTargetOptions({ token: TOKEN, allowedUrls: [] });
        closers.push(() => {
          hop.pool?.close();
          hop.client.close();
        });
        const routing = (url: string, pooled: boolean) =>
          RoutingTable.build([
            new HttpRetrieverTarget(
              "r-owner",
              url,
              { start: 0, end: 15 },
              pooled ? hop : { token: TOKEN },
            ),
          ], 16);

        // The tier follows deletes and damage through its own connection, behind a proxy to cut.
        const pgUrl = new URL(TEST_DATABASE_URL);
        const proxy = TcpProxy.start({ hostname: pgUrl.hostname, port: Number(pgUrl.port) });
        closers.push(() => proxy.close());
        const tierDbUrl = new URL(pg.url);
        tierDbUrl.host = `127.0.0.1:${proxy.port}`;
        const tierDb = await openDb(tierDbUrl.toString(), { applicationName: "des-tier-test" });
        closers.push(() => tierDb.close());
        const guard = new TierNames(tierDb, { range: { start: 0, end: 15 }, refreshMs: 0 });
        closers.push(() => guard.close());
        const tier = new GatewayByteTier({ maxBytes: 1 << 20, guard });
        const small = new GatewayByteTier({ maxBytes: SCAN_BUDGET, guard });
        await guard.start();
        assert(guard.usable(), "the tier serves once both sets are loaded");

        const audit = new AuditTrail(pg.db, { flushMs: 50 });
        closers.push(() => audit.close());
        const gateway = (tierOf: GatewayByteTier | undefined, url: string) => {
          const app = createGatewayApp({
            routing: routing(url, tierOf !== undefined),
            nameFormat: TEST_NAME_FORMAT,
            apiKeys: parseApiKeys(`ops@read+meta+admin:${ADMIN}`),
            audit,
            log: new Logger("gateway", { level: "error" }),
            tier: tierOf,
          });
          return serve(async (r) => await app.fetch(r));
        };
        const tiered = gateway(tier, counted);
        const reference = gateway(undefined, plain);
        const scanning = gateway(small, counted);
        const call = (base: string, name: string, init: RequestInit = {}) =>
          fetch(`${base}/files/${name}`, {
            ...init,
            headers: {
              authorization: `Bearer ${ADMIN}`,
              ...init.headers as Record<string, string>,
            },
          });
        /** Read through the tiered gateway; returns its answer and the hops / S3 requests made. */
        const viaTier = async (name: string, init: RequestInit = {}, base = tiered) => {
          const [h, s] = [hops, counter.count()];
          const answer = await snapshot(await call(base, name, init));
          return { answer, hops: hops - h, s3: counter.count() - s };
        };
        const hot = files[0];

        await t.step("a file enters the tier on its second read; then no hop, no S3", async () => {
          const first = await viaTier(hot.name);
          const second = await viaTier(hot.name);
          assertEquals([first.hops, second.hops], [1, 1], "both misses go to the retriever");
          assertEquals(first.answer.body, hot.bytes);
          assertEquals(second.answer, first.answer, "the filling read answers the same");
          assertEquals(tier.size, 1);
          const third = await viaTier(hot.name);
          assertEquals([third.hops, third.s3], [0, 0], "a hit makes no hop and no S3 request");
          assertEquals(third.answer, first.answer);
          assertEquals(tier.metrics.hits.get(), 1);
        });

        await t.step(
          "GET, HEAD, ranges and conditionals are identical to the retriever's",
          async () => {
            const etag = (await call(reference, hot.name)).headers.get("etag")!;
            const lastModified = (await call(reference, hot.name, { method: "HEAD" })).headers.get(
              "last-modified",
            )!;
            const cases: [string, RequestInit][] = [
              ["plain GET", {}],
              ["HEAD", { method: "HEAD" }],
              ["range", { headers: { range: "bytes=10-99" } }],
              ["suffix range", { headers: { range: "bytes=-5" } }],
              ["range past the end", { headers: { range: "bytes=5000-" } }],
              ["HEAD with a range", { method: "HEAD", headers: { range: "bytes=0-0" } }],
              ["If-None-Match hit", { headers: { "if-none-match": etag } }],
              ["If-None-Match miss", { headers: { "if-none-match": '"other"' } }],
              ["If-Match miss", { headers: { "if-match": '"other"' } }],
              ["If-Modified-Since", { headers: { "if-modified-since": lastModified } }],
              ["If-Range match", { headers: { range: "bytes=1-2", "if-range": etag } }],
              ["If-Range miss", { headers: { range: "bytes=1-2", "if-range": '"x"' } }],
            ];
            const statuses: number[] = [];
            for (const [what, init] of cases) {
              const expected = await snapshot(await call(reference, hot.name, init));
              const got = await viaTier(hot.name, init);
              assertEquals([got.hops, got.s3], [0, 0], `${what}: answered from the tier`);
              assertEquals(got.answer, expected, `${what}: identical`);
              statuses.push(got.answer.status);
            }
            assertEquals(statuses, [200, 200, 206, 206, 416, 200, 304, 200, 412, 304, 206, 200]);
          },
        );

        await t.step("a hit is still authenticated and audited", async () => {
          const anonymous = await fetch(`${tiered}/files/${hot.name}`);
          await anonymous.body?.cancel();
          assertEquals(anonymous.status, 401);
          await audit.flush();
          const [row] = await pg.db.query<{ n: number }>(
            "select count(*)::int as n from des_read_audit where name = $1 and status = 200",
            [hot.name],
          );
          // 3 reads in the first step, 8 answers of 200 and 6 of 206 through the tiered gateway.
          assert(row.n >= 3 + 4 + 3, `hits are audited (${row.n} rows)`);
        });

        /** Make `name` hot in the tier (two misses, then a hit without a hop). */
        const heat = async (name: string) => {
          await viaTier(name);
          await viaTier(name);
          assertEquals((await viaTier(name)).hops, 0, `${name} is hot`);
        };

        await t.step("a DELETE through the gateway: 410 at once", async () => {
          const name = files[1].name;
          await heat(name);
          const deleted = await call(tiered, name, { method: "DELETE" });
          await deleted.body?.cancel();
          assertEquals(deleted.status, 204);
          for (const method of ["GET", "HEAD"]) {
            assertEquals((await viaTier(name, { method })).answer.status, 410, method);
          }
          assert(guard.blocked(name));
        });

        await t.step(
          "a tombstone written in the catalog: 410 although the name was hot",
          async () => {
            const name = files[2].name;
            await heat(name);
            // As a parent's delete does it: the insert's trigger sends NOTIFY des_tombstone.
            await addTombstone(pg.db, { name, shard: SHARD, origin: "parent", actor: "test" });
            await until(
              async () => (await viaTier(name)).answer.status === 410,
              "410 from the gateway",
              PROPAGATION_BOUND_MS,
            );
            const after = await viaTier(name, { method: "HEAD" });
            assertEquals([after.answer.status, after.hops], [410, 1], "answered by the retriever");
          },
        );

        await t.step("a damaged file: 502 although the name was hot", async () => {
          const name = files[3].name;
          await heat(name);
          await recordDamagedFile(pg.db, {
            name,
            shard: SHARD,
            containerId: committed.containerId,
            detail: "test",
          });
          await until(
            async () => (await viaTier(name)).answer.status === 502,
            "502 from the gateway",
            PROPAGATION_BOUND_MS,
          );
          assertEquals((await viaTier(name, { method: "HEAD" })).answer.status, 502);
        });

        await t.step("a scan of ten times the budget stays under it", async () => {
          for (const f of scanned) {
            for (let i = 0; i < 2; i++) {
              const r = await viaTier(f.name, {}, scanning);
              assertEquals(r.answer.body, f.bytes);
            }
          }
          assert(small.bytes <= SCAN_BUDGET, `${small.bytes} bytes held`);
          assert(small.size > 0, "the tier holds the last files");
          assert(small.metrics.evictions.get() > 0, "older files were evicted");
          const last = scanned[scanned.length - 1];
          assertEquals((await viaTier(last.name, {}, scanning)).hops, 0, "the last one is hot");
        });

        await t.step("a container retired by compaction flushes the tier", async () => {
          const name = files[5].name;
          await heat(name);
          await pg.db.notify(
            RETIRED_CHANNEL,
            JSON.stringify({ shard: SHARD, containerId: committed.containerId }),
          );
          await until(() => tier.size === 0 && small.size === 0, "flushed", PROPAGATION_BOUND_MS);
          const r = await viaTier(name);
          assertEquals([r.answer.status, r.hops], [200, 1], "answered by the retriever");
        });

        await t.step("once its subscription is lost the tier serves nothing", async () => {
          const name = files[4].name;
          await heat(name);
          proxy.close();
          await until(() => !guard.usable(), "the loss is noticed", PROPAGATION_BOUND_MS);
          assertEquals([tier.size, small.size], [0, 0], "flushed");
          for (let i = 0; i < 3; i++) {
            const r = await viaTier(name);
            assertEquals([r.answer.status, r.hops], [200, 1], "answered by the retriever");
            assertEquals(r.answer.body, files[4].bytes);
          }
          assertEquals(tier.size, 0, "nothing is kept while the sets are not current");
        });
      } finally {
        for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {});
      }
    });
  },
});
