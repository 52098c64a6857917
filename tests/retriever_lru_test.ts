import assert from "node:assert/strict";
import { LruCache } from "../retriever/lru.ts";

/** The plain reference: an array of [key, value, weight], least recently used first. */
class Reference {
  entries: [number, string, number][] = [];
  evicted: number[] = [];
  constructor(readonly maxEntries: number, readonly maxWeight: number) {}
  get weight(): number {
    return this.entries.reduce((a, e) => a + e[2], 0);
  }
  get(key: number): string | undefined {
    const at = this.entries.findIndex((e) => e[0] === key);
    if (at < 0) return undefined;
    const [entry] = this.entries.splice(at, 1);
    this.entries.push(entry);
    return entry[1];
  }
  delete(key: number): boolean {
    const at = this.entries.findIndex((e) => e[0] === key);
    if (at >= 0) this.entries.splice(at, 1);
    return at >= 0;
  }
  set(key: number, value: string): void {
    this.delete(key);
    this.entries.push([key, value, value.length]);
    while (
      (this.entries.length > this.maxEntries || this.weight > this.maxWeight) &&
      this.entries[0][0] !== key
    ) {
      this.evicted.push(this.entries.shift()![0]);
    }
  }
}

Deno.test("LruCache keeps recency, limits and evictions exactly like a plain list", () => {
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (const [maxEntries, maxWeight] of [[5, Infinity], [50, 60], [1, 3], [8, 0]]) {
    const evicted: number[] = [];
    const cache = new LruCache<number, string>({
      maxEntries,
      maxWeight,
      weigh: (v) => v.length,
      onEvict: (key) => evicted.push(key),
    });
    const ref = new Reference(maxEntries, maxWeight);
    for (let i = 0; i < 5000; i++) {
      const key = random(20);
      const op = random(10);
      if (op < 5) assert.equal(cache.get(key), ref.get(key));
      else if (op < 8) {
        const value = "x".repeat(random(6));
        cache.set(key, value);
        ref.set(key, value);
      } else if (op < 9) assert.equal(cache.delete(key), ref.delete(key));
      else assert.equal(cache.has(key), ref.entries.some((e) => e[0] === key));
      assert.deepEqual(cache.keys(), ref.entries.map((e) => e[0]));
      assert.equal(cache.size, ref.entries.length);
      assert.equal(cache.weight, ref.weight);
    }
    assert.deepEqual(evicted, ref.evicted);
    cache.clear();
    assert.deepEqual([cache.size, cache.weight, cache.keys()], [0, 0, []]);
    cache.set(1, "a");
    assert.deepEqual(cache.keys(), [1]);
  }
});
