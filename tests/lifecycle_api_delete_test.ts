/**
 * `DELETE /files/<name>` end to end on a real PostgreSQL catalog and the S3
 * server: a gateway (API keys, audit) in front of a retriever over HTTP with
 * the hop token, and a second retriever of the same shards with memory and
 * disk byte cache tiers holding the name hot. Admin only (403 for a read
 * key), 204 and 204 again, 404 for a name never archived, 400 for a
 * malformed one; the delete is audited and its bytes counted dead; then GET
 * and HEAD answer 410 problem+json on every path, the hot copy included,
 * and the cached bytes are dropped.
 */

import { Logger } from "../core/log.ts";
import { getTombstone } from "../db/tombstones.ts";
import { AuditTrail } from "../gateway/audit.ts";
import { parseApiKeys } from "../gateway/auth.ts";
import { createGatewayApp } from "../gateway/app.ts";
import { HttpRetrieverTarget } from "../gateway/http_target.ts";
import { RoutingTable } from "../gateway/routing_table.ts";
import { createRetrieverApp } from "../retriever/app.ts";
import type { Retriever } from "../retriever/retriever.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  commitContainer,
  fetchGetStore,
  NameSource,
  startTestRetriever,
  TEST_NAME_FORMAT,
} from "./_helpers/archive_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { until } from "./_helpers/until.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store } from "./_helpers/s3.ts";

const TOKEN = "hop-token-0123456789abcdef0123";
const ADMIN = "admin-secret-0123456789";
const READER = "reader-secret-0123456789";
/** A generous bound: NOTIFY arrives within a second; this only catches a hang. */
const PROPAGATION_BOUND_MS = 15_000;

Deno.test({
  name: "DELETE /files/<name>: admin only, idempotent, audited; then 410 on every path",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("api-delete");
    const dir = await Deno.makeTempDir({ prefix: "des-api-delete-" });
    const closers: (() => Promise<unknown> | void)[] = [];
    try {
      const names = new NameSource();
      const files = names.filesInShard(3, 4, 3000);
      const committed = await commitContainer(pg.db, store, {
        shard: 3,
        files,
        bucket: store.bucket,
      });
      const reads = fetchGetStore(store);
      const quiet = new Logger("retriever", { level: "error" });
      const start = (id: string, byteCache = false) =>
        startTestRetriever(pg.db, store, {
          id,
          reads,
          log: quiet,
          ...(byteCache
            ? { byteCache: { memoryBytes: 1 << 20, diskBytes: 1 << 20, dir: `${dir}/bytes` } }
            : {}),
        });
      const owner = await start("r-owner");
      closers.push(() => owner.close());
      const replica = await start("r-replica", true);
      closers.push(() => replica.close());
      const hop = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen: () => {} },
        createRetrieverApp(owner, { token: TOKEN }).fetch,
      );
      closers.push(() => hop.shutdown());
      const audit = new AuditTrail(pg.db, { flushMs: 50 });
      closers.push(() => audit.close());
      const target = new HttpRetrieverTarget(
        "r-owner",
        `http://127.0.0.1:${hop.addr.port}`,
        { start: 0, end: 15 },
        { token: TOKEN },
      );
      const gateway = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen: () => {} },
        createGatewayApp({
          routing: RoutingTable.build([target], 16),
          nameFormat: TEST_NAME_FORMAT,
          apiKeys: parseApiKeys(`ops@read+meta+admin:${ADMIN},reader@read+meta:${READER}`),
          audit,
          log: new Logger("gateway", { level: "error" }),
        }).fetch,
      );
      closers.push(() => gateway.shutdown());
      const base = `http://127.0.0.1:${gateway.addr.port}`;
      const call = async (method: string, path: string, secret = ADMIN) => {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${secret}` },
        });
        const text = await res.text();
        return { status: res.status, type: res.headers.get("content-type"), text };
      };
      const direct = async (r: Retriever, method: string, name: string) => {
        const res = await r.handle(new Request(`http://des/files/${name}`, { method }));
        return {
          status: res.status,
          type: res.headers.get("content-type"),
          text: await res.text(),
        };
      };
      const hot = files[0];

      await t.step("the hot name sits in the replica's memory and disk tiers", async () => {
        for (let i = 0; i < 3; i++) {
          assertEquals((await direct(replica, "GET", hot.name)).status, 200);
        }
        await replica.byteCache!.flush();
        assert(replica.byteCache!.memoryBytes > 0, "memory tier holds it");
        assert(replica.byteCache!.diskBytes > 0, "disk tier holds it");
      });

      await t.step("a read key gets 403, nothing is deleted", async () => {
        const r = await call("DELETE", `/files/${hot.name}`, READER);
        assertEquals(r.status, 403);
        assertEquals(r.type, "application/problem+json");
        assertEquals(await getTombstone(pg.db, hot.name), null);
      });

      await t.step("400 for a malformed name, 404 for a name never archived", async () => {
        assertEquals((await call("DELETE", "/files/not-a-name")).status, 400);
        const unknown = await call("DELETE", `/files/${names.inShard(3)}`);
        assertEquals(unknown.status, 404);
        assertEquals(unknown.type, "application/problem+json");
      });

      await t.step("admin delete: 204, again 204; tombstone, dead bytes, audit", async () => {
        assertEquals((await call("DELETE", `/files/${hot.name}`)).status, 204);
        assertEquals((await call("DELETE", `/files/${hot.name}`)).status, 204);
        const stone = (await getTombstone(pg.db, hot.name))!;
        assertEquals([stone.origin, stone.actor, stone.bytes], [
          "api",
          "ops",
          hot.bytes.byteLength,
        ]);
        assertEquals(stone.containerId, committed.containerId);
        const [dead] = await pg.db.query<{ files: number; bytes: number }>(
          `select dead_files as files, dead_bytes::int as bytes from des_containers
           where container_id = $1`,
          [committed.containerId],
        );
        assertEquals(dead, { files: 1, bytes: hot.bytes.byteLength });
        await audit.flush();
        const rows = await pg.db.query<{ method: string; route: string; status: number }>(
          "select method, route, status from des_read_audit where name = $1 order by at",
          [hot.name],
        );
        assertEquals(rows.filter((r) => r.method === "DELETE").map((r) => [r.route, r.status]), [
          ["deleteFile", 403],
          ["deleteFile", 204],
          ["deleteFile", 204],
        ]);
      });

      await t.step("GET and HEAD answer 410 on every path, the hot copy included", async () => {
        for (const method of ["GET", "HEAD"]) {
          const viaGateway = await call(method, `/files/${hot.name}`);
          assertEquals(viaGateway.status, 410, `gateway ${method}`);
          if (method === "GET") {
            assertEquals(viaGateway.type, "application/problem+json");
            assertEquals(JSON.parse(viaGateway.text).status, 410);
          }
          assertEquals((await direct(owner, method, hot.name)).status, 410, `owner ${method}`);
          await until(
            async () => (await direct(replica, method, hot.name)).status === 410,
            `the replica answers 410 to ${method} within the bound`,
            PROPAGATION_BOUND_MS,
          );
        }
        assertEquals((await call("GET", `/files/${hot.name}/meta`)).status, 410);
        await until(
          async () => {
            await replica.byteCache!.flush();
            return replica.byteCache!.memoryBytes === 0 && replica.byteCache!.diskBytes === 0;
          },
          "the replica dropped the name's cached bytes",
          PROPAGATION_BOUND_MS,
        );
        assertEquals((await call("GET", `/files/${files[1].name}`)).status, 200, "others stay");
      });
    } finally {
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {});
      await removeTestS3Store(store);
      await pg.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
