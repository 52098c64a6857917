import { assert, assertEquals } from "./_helpers/assert.ts";
import { CHUNK_BYTES, CHUNKS_PER_COMMIT, TailCache } from "../retriever/tail_cache.ts";
import { LruCache } from "../retriever/lru.ts";

async function withCache(fn: (cache: TailCache, kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "des-tail-" });
  const { cache, kv } = await TailCache.open(`${dir}/cache.kv`);
  try {
    await fn(cache, kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

const ID = { key: "shards/00/c1.des", etag: "abc", size: 123456 };

Deno.test("TailCache round-trips small and multi-commit tails", async () => {
  await withCache(async (cache) => {
    assertEquals(await cache.get(ID), undefined);
    for (const n of [1, CHUNK_BYTES, CHUNK_BYTES + 1, CHUNK_BYTES * CHUNKS_PER_COMMIT * 2 + 7]) {
      const tail = bytes(n, n);
      await cache.set(ID, tail);
      assertEquals(await cache.get(ID), tail, `length ${n}`);
    }
  });
});

Deno.test("TailCache keys by ETag and size: another version is a miss", async () => {
  await withCache(async (cache) => {
    await cache.set(ID, bytes(100));
    assertEquals(await cache.get({ ...ID, etag: "other" }), undefined);
    assertEquals(await cache.get({ ...ID, size: ID.size + 1 }), undefined);
    assertEquals(await cache.get(ID), bytes(100));
  });
});

Deno.test("TailCache ignores a torn write (chunks without a manifest)", async () => {
  await withCache(async (cache, kv) => {
    await kv.set(["des-tail-v1", ID.key, ID.etag, ID.size, "some-write", 0], bytes(10));
    assertEquals(await cache.get(ID), undefined);
  });
});

Deno.test("TailCache treats a manifest whose chunks do not add up as a miss and removes it", async () => {
  await withCache(async (cache, kv) => {
    const tail = bytes(CHUNK_BYTES * 2 + 5);
    await cache.set(ID, tail);
    const manifest = await kv.get<{ writeId: string }>([
      "des-tail-v1",
      ID.key,
      ID.etag,
      ID.size,
      "manifest",
    ]);
    const writeId = manifest.value!.writeId;
    // Flip one byte of the second chunk: the CRC no longer matches.
    const key = ["des-tail-v1", ID.key, ID.etag, ID.size, writeId, 1];
    const chunk = (await kv.get<Uint8Array>(key)).value!;
    chunk[0] ^= 0xff;
    await kv.set(key, chunk);
    assertEquals(await cache.get(ID), undefined);
    assertEquals((await kv.get(manifest.key)).value, null);
    // A lost chunk is a miss as well.
    await cache.set(ID, tail);
    const again = (await kv.get<{ writeId: string }>(manifest.key)).value!.writeId;
    await kv.delete(["des-tail-v1", ID.key, ID.etag, ID.size, again, 2]);
    assertEquals(await cache.get(ID), undefined);
  });
});

Deno.test("TailCache replaces, deletes one version, and deletes all versions of an object", async () => {
  await withCache(async (cache, kv) => {
    await cache.set(ID, bytes(CHUNK_BYTES * 3));
    await cache.set(ID, bytes(50, 9));
    assertEquals(await cache.get(ID), bytes(50, 9));
    let entries = 0;
    for await (const _ of kv.list({ prefix: ["des-tail-v1"] })) entries++;
    assertEquals(entries, 2, "old chunks are removed after a replacement");
    assertEquals(await cache.latest(ID.key), { etag: ID.etag, size: ID.size });
    await cache.delete(ID);
    assertEquals(await cache.get(ID), undefined);
    assertEquals(await cache.latest(ID.key), undefined);
    await cache.set(ID, bytes(5));
    await cache.set({ ...ID, etag: "v2" }, bytes(6));
    assertEquals(await cache.latest(ID.key), { etag: "v2", size: ID.size });
    await cache.deleteObject(ID.key);
    assertEquals(await cache.get(ID), undefined);
    assertEquals(await cache.get({ ...ID, etag: "v2" }), undefined);
    assertEquals(await cache.latest(ID.key), undefined);
  });
});

Deno.test("TailCache with maxBytes evicts the oldest tails and stays under its bound", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-tail-" });
  const path = `${dir}/cache.kv`;
  const maxBytes = 5 * 100_000;
  const id = (i: number) => ({ key: `shards/00/c${i}.des`, etag: `e${i}`, size: 1000 + i });
  try {
    const { cache, kv } = await TailCache.open(path, { maxBytes });
    for (let i = 0; i < 12; i++) {
      await cache.set(id(i), bytes(100_000, i));
      assert(await cache.storedBytes() <= maxBytes, `after tail ${i}`);
    }
    assertEquals(await cache.get(id(11)), bytes(100_000, 11), "the newest is kept");
    assertEquals(await cache.get(id(0)), undefined, "the oldest is gone");
    const kept = [];
    for (let i = 0; i < 12; i++) if (await cache.get(id(i))) kept.push(i);
    assert(kept.length >= 4 && kept.length <= 5, `kept ${kept}`);
    await cache.deleteObject(id(11).key);
    kv.close();
    // A reopened cache counts what is stored from its size records.
    const again = await TailCache.open(path, { maxBytes });
    assertEquals(await again.cache.storedBytes(), (kept.length - 1) * 100_000);
    again.kv.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LruCache evicts by count and by weight, get refreshes", () => {
  const lru = new LruCache<string, Uint8Array>({
    maxEntries: 3,
    maxWeight: 100,
    weigh: (v) => v.byteLength,
  });
  lru.set("a", new Uint8Array(10));
  lru.set("b", new Uint8Array(10));
  lru.set("c", new Uint8Array(10));
  assert(lru.get("a"));
  lru.set("d", new Uint8Array(10));
  assertEquals([lru.has("a"), lru.has("b"), lru.has("c"), lru.has("d")], [true, false, true, true]);
  lru.set("e", new Uint8Array(90));
  assertEquals([lru.has("c"), lru.has("d"), lru.has("e")], [false, true, true]);
  assertEquals([lru.size, lru.weight], [2, 100]);
  lru.set("big", new Uint8Array(500));
  assertEquals([lru.size, lru.has("big")], [1, true], "an oversized entry stays alone");
  lru.delete("big");
  assertEquals([lru.size, lru.weight], [0, 0]);
});
