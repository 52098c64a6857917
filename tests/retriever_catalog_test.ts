import { assertEquals } from "./_helpers/assert.ts";
import { type CatalogContainer, ContainerCatalog } from "../retriever/catalog.ts";

function c(id: string, shard: number, first: string, last: string, at = 0): CatalogContainer {
  return {
    id,
    shard,
    bucket: "b",
    key: `k/${id}`,
    size: 100,
    firstName: first,
    lastName: last,
    committedAt: at,
  };
}

const ids = (list: CatalogContainer[]) => list.map((x) => x.id);

Deno.test("candidates: disjoint ranges find exactly the container holding the name", () => {
  const cat = new ContainerCatalog();
  cat.replaceAll([
    c("a", 1, "b", "d"),
    c("b", 1, "f", "h"),
    c("c", 1, "j", "m"),
    c("x", 2, "a", "z"),
  ]);
  assertEquals(ids(cat.candidates(1, "a")), []);
  assertEquals(ids(cat.candidates(1, "b")), ["a"]);
  assertEquals(ids(cat.candidates(1, "c")), ["a"]);
  assertEquals(ids(cat.candidates(1, "d")), ["a"]);
  assertEquals(ids(cat.candidates(1, "e")), []);
  assertEquals(ids(cat.candidates(1, "g")), ["b"]);
  assertEquals(ids(cat.candidates(1, "m")), ["c"]);
  assertEquals(ids(cat.candidates(1, "n")), []);
  assertEquals(ids(cat.candidates(3, "g")), []);
  assertEquals(cat.size, 4);
});

Deno.test("candidates: overlapping ranges, latest commit first", () => {
  const cat = new ContainerCatalog();
  // A wide old container that ends after narrower later ones: found through the running max.
  cat.replaceAll([c("wide", 0, "a", "y", 1), c("n1", 0, "c", "e", 2), c("n2", 0, "g", "i", 3)]);
  assertEquals(ids(cat.candidates(0, "d")), ["n1", "wide"]);
  assertEquals(ids(cat.candidates(0, "f")), ["wide"]);
  assertEquals(ids(cat.candidates(0, "h")), ["n2", "wide"]);
  assertEquals(ids(cat.candidates(0, "z")), []);
});

Deno.test("upsert adds and replaces, remove forgets", () => {
  const cat = new ContainerCatalog();
  cat.replaceAll([c("a", 1, "b", "d")]);
  assertEquals(cat.upsert(c("b", 1, "f", "h")), true);
  assertEquals(cat.upsert(c("b", 1, "f", "h")), false);
  assertEquals(ids(cat.candidates(1, "g")), ["b"]);
  cat.upsert({ ...c("b", 1, "f", "h"), etag: "new" });
  assertEquals(cat.get("b")?.etag, "new");
  cat.upsert(c("b", 2, "f", "h"));
  assertEquals(ids(cat.candidates(1, "g")), []);
  assertEquals(ids(cat.candidates(2, "g")), ["b"]);
  cat.remove("b");
  assertEquals(ids(cat.candidates(2, "g")), []);
  assertEquals(cat.size, 1);
  cat.replaceAll([]);
  assertEquals(ids(cat.candidates(1, "c")), []);
});

Deno.test("replaceShards: replaces the named shards only, and empties a shard with no rows", () => {
  const cat = new ContainerCatalog();
  cat.replaceAll([c("a", 1, "b", "d"), c("b", 2, "f", "h"), c("c", 3, "j", "m")]);
  cat.replaceShards([1, 2], [c("n", 1, "x", "y")]);
  assertEquals(ids(cat.candidates(1, "b")), []);
  assertEquals(ids(cat.candidates(1, "x")), ["n"]);
  assertEquals(ids(cat.candidates(2, "g")), []);
  assertEquals(ids(cat.candidates(3, "k")), ["c"]);
  assertEquals(cat.get("a"), undefined);
  assertEquals(cat.size, 2);
});
