/**
 * The retriever's byte cache against a real S3 server, requests counted on
 * the store: a hot read makes none, a warm-index read one; a container
 * replaced under the same key never serves old bytes; an evicted entry
 * refills; a damaged disk entry is dropped and read again; memory stays
 * under its setting through a scan of ten times the cache size.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  commitContainer,
  fixtureBytes,
  type FixtureFile,
  TEST_NAME_FORMAT,
} from "./_helpers/archive_fixture.ts";
import { type CountedWorld, withCountedWorld } from "./_helpers/counted_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import type { ByteCacheSettings } from "../retriever/byte_cache.ts";
import { Retriever } from "../retriever/retriever.ts";
import { DesWriter } from "../format/writer.ts";

type Env = CountedWorld;

function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
  return withCountedWorld("ret-bytes", fn);
}

function start(env: Env, byteCache: Partial<ByteCacheSettings>): Promise<Retriever> {
  return Retriever.start({
    id: "r-bytes",
    range: { start: 0, end: 15 },
    nameFormat: TEST_NAME_FORMAT,
    db: env.pg.db,
    storeFor: () => env.reads,
    readinessBucket: env.store.bucket,
    kvPath: `${env.dir}/index.kv`,
    catalogRefreshMs: 0,
    byteCache: { memoryBytes: 0, diskBytes: 0, dir: `${env.dir}/bytes`, ...byteCache },
  });
}

/** Read `name`; returns the body and the S3 requests the read made. */
async function read(env: Env, r: Retriever, name: string, init: RequestInit = {}) {
  env.counter.reset();
  const res = await r.handle(new Request(`http://des/files/${name}`, init));
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body, requests: env.counter.count() };
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: s3TestIgnore(), sanitizeResources: false, sanitizeOps: false, fn });

test("byte cache: warm-index read = 1 S3 request, hot read = 0, ranges served from it", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(3, 4, 5000);
    await commitContainer(env.pg.db, env.store, { shard: 3, files, bucket: env.store.bucket });
    const r = await start(env, { memoryBytes: 1024 * 1024 });
    try {
      await read(env, r, files[1].name); // opens the container (index now warm)
      const warm = await read(env, r, files[0].name);
      assertEquals(warm.body, files[0].bytes);
      assertEquals(warm.requests, 1, "first read with a warm index: one request");
      const fill = await read(env, r, files[0].name);
      assertEquals(fill.body, files[0].bytes);
      assertEquals(fill.requests, 1, "second read: admitted, one whole-file read fills the cache");
      for (let i = 0; i < 3; i++) {
        const hot = await read(env, r, files[0].name);
        assertEquals(hot.body, files[0].bytes);
        assertEquals(hot.requests, 0, "hot read: no S3 request");
      }
      const part = await read(env, r, files[0].name, { headers: { range: "bytes=100-1099" } });
      assertEquals(part.status, 206);
      assertEquals(part.body, files[0].bytes.slice(100, 1100));
      assertEquals(part.requests, 0);
      assertEquals(r.byteCache!.metrics.hits.get({ tier: "memory" }), 4);
      const text = r.metrics.registry.render();
      assert(text.includes('des_retriever_byte_cache_hit_ratio{tier="memory"}'), text);
    } finally {
      await r.close();
    }
  });
});

test("byte cache: a container replaced under the same key never serves old bytes", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(9, 3, 3000);
    const c = await commitContainer(env.pg.db, env.store, {
      shard: 9,
      files,
      bucket: env.store.bucket,
    });
    const r = await start(env, { memoryBytes: 1024 * 1024, diskBytes: 1024 * 1024 });
    const rewrite = async (seed: number): Promise<FixtureFile[]> => {
      const next = files.map((f, i) => ({ name: f.name, bytes: fixtureBytes(3000, seed + i) }));
      const writer = await DesWriter.create(await env.store.createWriter(c.key), {
        shard: 9,
        source: "test",
        containerId: c.containerId,
      });
      for (const f of next) await writer.add(f.name, f.bytes);
      await writer.finish();
      return next;
    };
    const makeHot = async (f: FixtureFile) => {
      for (let i = 0; i < 3; i++) assertEquals((await read(env, r, f.name)).body, f.bytes);
      assertEquals((await read(env, r, f.name)).requests, 0, "hot");
    };
    try {
      await makeHot(files[0]);
      await r.byteCache!.flush();

      // 1. The catalog learns the new version (its ETag changes): the next read misses.
      const second = await rewrite(100);
      const etag = (await env.store.head(c.key))!.etag;
      await env.pg.db.query("update des_containers set etag = $1 where container_id = $2", [
        etag,
        c.containerId,
      ]);
      await r.refreshCatalog();
      const afterCatalog = await read(env, r, files[0].name);
      assertEquals(afterCatalog.body, second[0].bytes, "new bytes after the catalog update");
      await makeHot(second[0]);

      // 2. Replaced again without a catalog update: a 412 on any read teaches the new ETag.
      const third = await rewrite(200);
      const other = await read(env, r, files[1].name);
      assertEquals(other.body, third[1].bytes);
      assertEquals(r.metrics.conflicts.get(), 1);
      const afterConflict = await read(env, r, files[0].name);
      assertEquals(afterConflict.body, third[0].bytes, "new bytes after the 412");
      assert(afterConflict.requests >= 1, "not answered from the old version's entry");
    } finally {
      await r.close();
    }
  });
});

test("byte cache: an evicted entry refills", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(5, 20, 1000);
    await commitContainer(env.pg.db, env.store, { shard: 5, files, bucket: env.store.bucket });
    // Room for about eight files of 1000 B (a file may take an eighth of the budget).
    const r = await start(env, { memoryBytes: 9600 });
    try {
      const [first, ...rest] = files;
      await read(env, r, first.name);
      await read(env, r, first.name);
      assertEquals((await read(env, r, first.name)).requests, 0, "cached");
      for (const f of rest) {
        await read(env, r, f.name);
        await read(env, r, f.name);
      }
      assert(r.byteCache!.metrics.evictions.get({ tier: "memory" }) > 0, "evictions happened");
      const again = await read(env, r, first.name);
      assertEquals(again.body, first.bytes);
      assertEquals(again.requests, 1, "evicted: read from S3 again");
      const refill = await read(env, r, first.name);
      assertEquals(refill.body, first.bytes);
      assertEquals(refill.requests, 1, "second miss refills");
      const hot = await read(env, r, first.name);
      assertEquals(hot.body, first.bytes);
      assertEquals(hot.requests, 0, "hot again");
      assert(r.byteCache!.memoryBytes <= 9600);
    } finally {
      await r.close();
    }
  });
});

test("byte cache: a damaged disk entry is detected, dropped and read again from S3", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(7, 2, 10_000);
    await commitContainer(env.pg.db, env.store, { shard: 7, files, bucket: env.store.bucket });
    const disk = { diskBytes: 1024 * 1024 };
    let r = await start(env, disk);
    try {
      await read(env, r, files[0].name);
      await read(env, r, files[0].name);
      await r.byteCache!.flush();
      const hot = await read(env, r, files[0].name);
      assertEquals(hot.body, files[0].bytes);
      assertEquals(hot.requests, 0, "disk hit");

      const entries = [...Deno.readDirSync(`${env.dir}/bytes`)];
      assertEquals(entries.length, 1);
      const path = `${env.dir}/bytes/${entries[0].name}`;
      const damaged = Deno.readFileSync(path);
      damaged[1234] ^= 0x01;
      Deno.writeFileSync(path, damaged);

      const after = await read(env, r, files[0].name);
      assertEquals(after.status, 200);
      assertEquals(after.body, files[0].bytes, "the good bytes, not the damaged ones");
      assertEquals(after.requests, 1, "read again from S3");
      assertEquals(r.byteCache!.metrics.corrupt.get(), 1);
      await r.byteCache!.flush();
      assertEquals(Deno.readFileSync(path), files[0].bytes, "the entry was rewritten");
      assertEquals((await read(env, r, files[0].name)).requests, 0, "hot again from disk");
    } finally {
      await r.close();
    }
    // A restart adopts the disk tier; with the index in Deno KV the read needs no request.
    r = await start(env, disk);
    try {
      const restarted = await read(env, r, files[0].name);
      assertEquals(restarted.body, files[0].bytes);
      assertEquals(restarted.requests, 0, "hot after a restart");
    } finally {
      await r.close();
    }
  });
});

test("byte cache: memory stays under its setting through a scan of 10× its size", async () => {
  await withEnv(async (env) => {
    const limit = 64 * 1024;
    const size = 1024;
    const count = (10 * limit) / size;
    const files: FixtureFile[] = [];
    for (let i = 0; i < count; i++) {
      files.push({ name: env.names.inShard(2), bytes: fixtureBytes(size, i + 1) });
    }
    await commitContainer(env.pg.db, env.store, { shard: 2, files, bucket: env.store.bucket });
    const r = await start(env, { memoryBytes: limit });
    try {
      const hot = files[0];
      await read(env, r, hot.name);
      await read(env, r, hot.name);
      assertEquals((await read(env, r, hot.name)).requests, 0);
      // A one-off scan passes the admission filter by and leaves the hot file alone.
      for (const f of files.slice(1)) {
        assertEquals((await read(env, r, f.name)).body, f.bytes);
        assert(r.byteCache!.memoryBytes <= limit, `${r.byteCache!.memoryBytes} > ${limit}`);
      }
      assertEquals((await read(env, r, hot.name)).requests, 0, "the hot file survived the scan");
      // Everything read twice: all admitted, the bound still holds.
      for (const f of files) {
        for (let i = 0; i < 2; i++) assertEquals((await read(env, r, f.name)).body, f.bytes);
        assert(r.byteCache!.memoryBytes <= limit, `${r.byteCache!.memoryBytes} > ${limit}`);
      }
      assert(r.byteCache!.metrics.evictions.get({ tier: "memory" }) > 0);
    } finally {
      await r.close();
    }
  });
});
