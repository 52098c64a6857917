/**
 * The status page in a real browser: the all-in-one DES on PostgreSQL packs
 * a parent fixture, then headless Chromium loads `GET /status` and the facts
 * it shows are compared with the metadata DB and the parent table.
 * Chromium is Debian's `chromium` package (`.ci/run` installs it); without
 * it the browser test is skipped unless `DES_TEST_REQUIRE_SERVICES=1`.
 * `DES_STATUS_SCREENSHOT=docs/status-page.png` also refreshes the screenshot
 * that docs/operations.md shows.
 */

import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { createTestDatabase } from "./_helpers/pg.ts";
import { createParentFixture } from "./_helpers/parent_fixture.ts";
import { loadConfig } from "../core/config.ts";
import { loadGatewaySettings } from "../gateway/gateway_config.ts";
import { Logger } from "../core/log.ts";
import { startAllInOne } from "../serve/all_in_one.ts";
import { cacheRatios, STATUS_PAGE_CSP, statusPageApp } from "../gateway/status_page.tsx";
import { parseApiKeys } from "../gateway/auth.ts";
import { createHash } from "node:crypto";
import { RoutingTable } from "../gateway/routing_table.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const required = Deno.env.get("DES_TEST_REQUIRE_SERVICES") === "1";

async function chromium(args: string[]): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "des-chromium-" });
  try {
    const out = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    return stdout;
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** The text of the element with `id`, tags stripped. */
function textOf(dom: string, id: string): string {
  const m = dom.match(new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</(p|ul|table)>`));
  assert(m, `#${id} missing`);
  return m[1].replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
}

/** `data-field` cells of the row with `attr="value"`. */
function rowFields(dom: string, attr: string, value: string): Record<string, number> {
  const m = dom.match(new RegExp(`<tr[^>]*${attr}="${value}"[^>]*>([\\s\\S]*?)</tr>`));
  assert(m, `row ${attr}=${value} missing`);
  const out: Record<string, number> = {};
  for (const f of m[1].matchAll(/data-field="(\w+)"[^>]*>(\d+)</g)) out[f[1]] = Number(f[2]);
  return out;
}

Deno.test({
  name: "status page: headless Chromium shows the facts of the metadata DB and the parent table",
  ignore: !haveChromium && !required,
  fn: async () => {
    const meta = await createTestDatabase({ migrate: true });
    const parent = await createParentFixture({ rows: 120 });
    const work = await Deno.makeTempDir({ prefix: "des-status-" });
    const env = new Map([
      ...parent.env,
      ["DES_DATABASE_URL", meta.url],
      ["DES_STORE_ROOT", `${work}/store`],
      ["DES_KV_PATH", `${work}/cache.kv`],
      ["DES_PACKER_WORKDIR", `${work}/work`],
      ["DES_SHARD_BITS", "3"],
      ["DES_GATEWAY_AUDIT", "false"],
    ]);
    const envSource = { get: (k: string) => env.get(k) };
    const service = await startAllInOne({
      config: loadConfig(envSource),
      gateway: await loadGatewaySettings(envSource),
      sourcesPath: parent.sourcesPath,
      env: envSource,
      hostname: "127.0.0.1",
      port: 0,
      markIntervalMs: 0,
      packIntervalMs: 0,
      log: new Logger("test", { level: "error" }),
    });
    try {
      await service.markOnce();
      await service.packOnce();
      // Dead letters, a backlog left in shard 5 and an expired lease on it.
      const t = parent.table;
      await parent.db.exec(`
        update ${t} set state = 'broken', failure_note = 'original unreadable'
         where doc_id in (select doc_id from ${t} where state = 'live' order by doc_id limit 2);
        update ${t} set state = 'queued', archive_name = 'x-' || doc_id, archive_shard = 5
         where doc_id in (select doc_id from ${t} where state = 'live' order by doc_id limit 3);`);
      await meta.db.query(
        `update des_shards set lease_owner = 'packer-gone', lease_expires_at = now() - interval '1 hour'
          where shard = 5`,
      );
      const [packed] = await parent.db.query<{ archive_name: string }>(
        `select archive_name from ${t} where state = 'archived' order by doc_id limit 1`,
      );
      for (let i = 0; i < 3; i++) {
        const read = await fetch(`${service.url}/files/${packed.archive_name}`);
        assertEquals(read.status, 200);
        await read.arrayBuffer();
      }

      // The page's own policy allows exactly its stylesheet; the edge headers still apply.
      const direct = await fetch(`${service.url}/status`);
      const html = await direct.text();
      assertEquals(direct.status, 200);
      assertEquals(direct.headers.get("x-content-type-options"), "nosniff");
      const css = html.match(/<style>([\s\S]*?)<\/style>/)![1];
      const hash = createHash("sha256").update(css).digest("base64");
      assertEquals(direct.headers.get("content-security-policy"), STATUS_PAGE_CSP);
      assertMatch(
        STATUS_PAGE_CSP,
        new RegExp(
          `^sandbox; default-src 'none'; style-src 'sha256-${hash.replace(/[+/]/g, "\\$&")}'$`,
        ),
      );

      const dom = await chromium(["--dump-dom", `${service.url}/status`]);
      // Containers per shard, as committed in the catalog.
      const shards = await meta.db.query<{ shard: number; c: number; f: number; b: number }>(
        `select shard, count(*)::int as c, sum(file_count)::bigint as f, sum(size)::bigint as b
           from des_containers where state in ('committed', 'parent_updated', 'sources_released')
          group by shard order by shard`,
      );
      assert(shards.length > 0);
      for (const s of shards) {
        assertEquals(rowFields(dom, "data-shard", String(s.shard)), {
          containers: s.c,
          files: Number(s.f),
          bytes: Number(s.b),
        });
      }
      // Rows per stage of the parent table.
      const counts = Object.fromEntries(
        (await parent.db.query<{ state: string; n: number }>(
          `select state, count(*)::int as n from ${t} group by state`,
        )).map((r) => [r.state, r.n]),
      );
      assertEquals(rowFields(dom, "data-source", "fixture-docs"), {
        marked: counts.queued,
        eligible: counts.live,
        packed: counts.archived,
        failed: counts.broken,
      });
      assertEquals([counts.queued, counts.broken], [3, 2]);
      assertMatch(
        textOf(dom, "attention"),
        /lease on shard 5 held by packer-gone expired .* 3 marked rows left/,
      );
      assertMatch(textOf(dom, "attention"), /fixture-docs has 2 dead-lettered rows/);
      assertMatch(textOf(dom, "leases"), /5 packer-gone/);
      assertMatch(textOf(dom, "dead-letters"), /original unreadable/);
      assertMatch(textOf(dom, "routes"), /serve 0–7 in-process ok/);
      assertMatch(textOf(dom, "caches"), /Container indexes: [\d.]+ % from memory/);
      assertMatch(dom, /<meta http-equiv="refresh" content="10">/);
      // No scripts and nothing loaded from elsewhere.
      assertEquals(/<script|<link|src="http/.test(dom), false);

      const shot = Deno.env.get("DES_STATUS_SCREENSHOT") ?? `${work}/status.png`;
      await chromium([`--screenshot=${shot}`, "--window-size=1100,1500", `${service.url}/status`]);
      const png = await Deno.readFile(shot);
      assertEquals([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    } finally {
      await service.close();
      await parent.close();
      await meta.drop();
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test("status page: with API keys it needs the admin scope", async () => {
  const app = statusPageApp({
    collect: () => Promise.reject(new Error("not reached")),
    routing: () => RoutingTable.build([], 0),
    apiKeys: parseApiKeys("reader:0123456789abcdef0123,ops@read+admin:fedcba9876543210fedc"),
  });
  const remoteAddr = { hostname: "127.0.0.1", port: 5, transport: "tcp" as const };
  const get = (authorization?: string) =>
    app.fetch(
      new Request("http://gw/status", { headers: authorization ? { authorization } : {} }),
      { remoteAddr },
    );
  assertEquals((await get()).status, 401);
  const reader = await get("Bearer 0123456789abcdef0123");
  assertEquals(reader.status, 403);
  assertEquals(reader.headers.get("content-type"), "application/problem+json");
  // The admin key gets past authorization (to the collector, which fails here: 500 problem).
  const admin = await get("Bearer fedcba9876543210fedc");
  assertEquals(admin.status, 500);
  await admin.body?.cancel();
});

Deno.test("status page: without API keys only loopback clients may read it", async () => {
  const app = statusPageApp({
    collect: () => Promise.reject(new Error("not reached")),
    routing: () => RoutingTable.build([], 0),
  });
  const res = await app.fetch(new Request("http://gw/status"), {
    remoteAddr: { hostname: "10.1.2.3", port: 5, transport: "tcp" },
  });
  assertEquals(res.status, 403);
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  assertMatch((await res.json()).detail, /loopback clients only, not 10\.1\.2\.3/);
});

Deno.test("status page: cache hit ratios from the metrics text", () => {
  const text = [
    'des_retriever_index_lookups_total{tier="memory"} 6',
    'des_retriever_index_lookups_total{tier="kv"} 1',
    'des_retriever_index_lookups_total{tier="s3"} 1',
    "des_retriever_byte_cache_lookups_total 4",
    'des_retriever_byte_cache_hits_total{tier="memory"} 2',
    'des_retriever_byte_cache_hits_total{tier="disk"} 1',
  ].join("\n");
  assertEquals(cacheRatios(text), {
    index: { memory: 0.75, kv: 0.125, s3: 0.125, lookups: 8 },
    bytes: { hitRatio: 0.75, lookups: 4 },
  });
  assertEquals(cacheRatios(""), {});
});
