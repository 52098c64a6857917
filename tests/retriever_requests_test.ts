/**
 * S3 requests per read, counted on the store: cold ≤ 2, warm exactly 1,
 * HEAD warm 0, after a restart on a warm KV exactly 1; a replaced object is
 * reopened once; a container committed while the retriever runs becomes
 * readable without a restart.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { commitContainer, fixtureBytes, TEST_NAME_FORMAT } from "./_helpers/archive_fixture.ts";
import { type CountedWorld, withCountedWorld } from "./_helpers/counted_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { Retriever } from "../retriever/retriever.ts";
import { readAll } from "../store/object_store.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { DesReader } from "../format/reader.ts";
import { DesWriter } from "../format/writer.ts";

type Env = CountedWorld;

function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
  return withCountedWorld("ret-req", fn);
}

function start(env: Env, kvPath: string | null = `${env.dir}/cache.kv`): Promise<Retriever> {
  return Retriever.start({
    id: "r-req",
    range: { start: 0, end: 15 },
    nameFormat: TEST_NAME_FORMAT,
    db: env.pg.db,
    storeFor: () => env.reads,
    readinessBucket: env.store.bucket,
    kvPath: kvPath ?? undefined,
    catalogRefreshMs: 0,
  });
}

async function read(r: Retriever, name: string, init: RequestInit = {}) {
  const res = await r.handle(new Request(`http://des/files/${name}`, init));
  return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: s3TestIgnore(), sanitizeResources: false, sanitizeOps: false, fn });

test("S3 requests per read: cold ≤ 2, warm 1, HEAD warm 0, restart on warm KV 1", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(5, 20, 4096);
    await commitContainer(env.pg.db, env.store, { shard: 5, files, bucket: env.store.bucket });
    let r = await start(env);
    try {
      env.counter.reset();
      const cold = await read(r, files[0].name);
      assertEquals(cold.body, files[0].bytes);
      assert(env.counter.count() <= 2, `cold read made ${env.counter.count()} requests`);
      assertEquals(env.counter.count("get"), 2, "cold: one suffix GET + one data GET");

      for (const f of files.slice(1, 6)) {
        env.counter.reset();
        const warm = await read(r, f.name);
        assertEquals(warm.body, f.bytes);
        assertEquals(env.counter.count(), 1, "warm read: exactly one request");
        assertEquals(env.counter.requests[0].ranged, true);
      }

      env.counter.reset();
      const head = await read(r, files[7].name, { method: "HEAD" });
      assertEquals(head.status, 200);
      assertEquals(env.counter.count(), 0, "HEAD warm: no request");

      env.counter.reset();
      assertEquals((await read(r, env.names.inShard(5))).status, 404);
      assertEquals(env.counter.count(), 0, "unknown name in a known range: no request");
    } finally {
      await r.close();
    }

    r = await start(env);
    try {
      env.counter.reset();
      const again = await read(r, files[10].name);
      assertEquals(again.body, files[10].bytes);
      assertEquals(env.counter.count(), 1, "after a restart with a warm KV: exactly one request");
      assertEquals(r.metrics.indexLookups.get({ tier: "kv" }), 1);
    } finally {
      await r.close();
    }

    // Without KV a restart is cold again: the KV is what saved the request above.
    r = await start(env, null);
    try {
      env.counter.reset();
      await read(r, files[11].name);
      assertEquals(env.counter.count(), 2);
    } finally {
      await r.close();
    }
  });
});

test("a container without a catalog ETag is pinned to the ETag its tail came from", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(2, 3, 100);
    await commitContainer(env.pg.db, env.store, {
      shard: 2,
      files,
      bucket: env.store.bucket,
      withoutEtag: true,
    });
    let r = await start(env);
    try {
      assertEquals((await read(r, files[0].name)).body, files[0].bytes);
    } finally {
      await r.close();
    }
    r = await start(env);
    try {
      env.counter.reset();
      assertEquals((await read(r, files[1].name)).body, files[1].bytes);
      assertEquals(env.counter.count(), 1);
    } finally {
      await r.close();
    }
  });
});

test("a replaced container object (412) is dropped from both caches and reopened once", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(9, 4, 300);
    const c = await commitContainer(env.pg.db, env.store, {
      shard: 9,
      files,
      bucket: env.store.bucket,
      withoutEtag: true,
    });
    let r = await start(env);
    try {
      assertEquals((await read(r, files[0].name)).body, files[0].bytes);
      // Rewrite the object under the same key: same files and size, another container id.
      const writer = await DesWriter.create(await env.store.createWriter(c.key), {
        shard: 9,
        source: "test",
        bigFiles: { store: env.store, prefix: "containers/0009/" },
      });
      for (const f of files) await writer.add(f.name, f.bytes);
      await writer.finish();
      env.counter.reset();
      const after = await read(r, files[1].name);
      assertEquals(after.status, 200);
      assertEquals(after.body, files[1].bytes);
      assertEquals(r.metrics.conflicts.get(), 1);
      assertEquals(env.counter.count(), 3, "failed pinned GET + suffix GET + data GET");
      env.counter.reset();
      assertEquals((await read(r, files[2].name)).body, files[2].bytes);
      assertEquals(env.counter.count(), 1, "warm again after the reopen");
    } finally {
      await r.close();
    }
    // The KV now holds the new version only.
    r = await start(env);
    try {
      env.counter.reset();
      assertEquals((await read(r, files[3].name)).body, files[3].bytes);
      assertEquals(env.counter.count(), 1);
      assertEquals(r.metrics.conflicts.get(), 0);
    } finally {
      await r.close();
    }
  });
});

test("a container committed while the retriever runs becomes readable without restart", async () => {
  await withEnv(async (env) => {
    const first = { name: env.names.inShard(4), bytes: fixtureBytes(10, 1) };
    await commitContainer(env.pg.db, env.store, {
      shard: 4,
      files: [first],
      bucket: env.store.bucket,
    });
    const r = await start(env);
    try {
      const later = { name: env.names.inShard(4), bytes: fixtureBytes(20, 2) };
      const invisible = { name: env.names.inShard(4), bytes: fixtureBytes(30, 3) };
      assertEquals((await read(r, later.name)).status, 404);
      await commitContainer(env.pg.db, env.store, {
        shard: 4,
        files: [invisible],
        bucket: env.store.bucket,
        state: "verified",
      });
      await commitContainer(env.pg.db, env.store, {
        shard: 4,
        files: [later],
        bucket: env.store.bucket,
      });
      // NOTIFY is asynchronous: poll (bounded) until the catalog has the new container.
      const deadline = Date.now() + 15_000;
      while (r.catalog.size < 2 && Date.now() < deadline) {
        await new Promise((ok) => setTimeout(ok, 20));
      }
      assertEquals(r.catalog.size, 2, "the commit notification was applied");
      const got = await read(r, later.name);
      assertEquals(got.status, 200);
      assertEquals(got.body, later.bytes);
      assertEquals(
        (await read(r, invisible.name)).status,
        404,
        "uncommitted containers stay invisible",
      );
      assertEquals((await read(r, first.name)).body, first.bytes);
    } finally {
      await r.close();
    }
  });
});

test("a stale catalog ETag (object replaced after commit) is detected and the object reopened", async () => {
  await withEnv(async (env) => {
    const files = env.names.filesInShard(1, 3, 50);
    const c = await commitContainer(env.pg.db, env.store, {
      shard: 1,
      files,
      bucket: env.store.bucket,
    });
    const writer = await DesWriter.create(await env.store.createWriter(c.key), {
      shard: 1,
      source: "test",
    });
    for (const f of files) await writer.add(f.name, f.bytes);
    await writer.finish();
    const r = await start(env);
    try {
      env.counter.reset();
      const got = await read(r, files[0].name);
      assertEquals(got.body, files[0].bytes);
      assertEquals(r.metrics.conflicts.get(), 1);
      assertEquals(env.counter.count(), 3, "412 on the pinned suffix GET, then suffix + data");
      env.counter.reset();
      assertEquals((await read(r, files[1].name)).body, files[1].bytes);
      assertEquals(env.counter.count(), 1);
    } finally {
      await r.close();
    }
  });
});

test("a damaged file is never served as good bytes: 502 when small, a cut body when streamed", async () => {
  await withEnv(async (env) => {
    const small = { name: env.names.inShard(6), bytes: fixtureBytes(1000, 1) };
    const large = { name: env.names.inShard(6), bytes: fixtureBytes(200_000, 2) };
    const c = await commitContainer(env.pg.db, env.store, {
      shard: 6,
      files: [small, large],
      bucket: env.store.bucket,
    });
    // Flip one byte inside each file's data and put the object back under the same key.
    const reader = await DesReader.open(new StoreRangeSource(env.store, c.key));
    const offsets = [small.name, large.name].map((n) => reader.find(n)!.dataOffset + 10);
    const bytes = await readAll((await env.store.get(c.key)).body);
    for (const at of offsets) bytes[at] ^= 0xff;
    await env.store.put(c.key, bytes);
    const r = await start(env);
    try {
      const bad = await r.handle(new Request(`http://des/files/${small.name}`));
      assertEquals(bad.status, 502);
      assertEquals(bad.headers.get("content-type"), "application/problem+json");
      assertEquals((await bad.json()).type, "https://des.dev/problems/format.checksum-mismatch");
      const streamed = await r.handle(new Request(`http://des/files/${large.name}`));
      assertEquals(streamed.status, 200);
      let failed = false;
      try {
        await streamed.arrayBuffer();
      } catch {
        failed = true;
      }
      assert(failed, "the streamed body must fail at the end, not complete");
      assertEquals(r.metrics.streamErrors.get(), 1);
      // A range that avoids the damaged byte is served (only whole files carry a checksum).
      const part = await r.handle(
        new Request(`http://des/files/${large.name}`, { headers: { range: "bytes=100-199" } }),
      );
      assertEquals(new Uint8Array(await part.arrayBuffer()), large.bytes.slice(100, 200));
    } finally {
      await r.close();
    }
  });
});
