/**
 * The folder import-cycle check: it finds a cycle planted in a small tree
 * (also one closed only by a type import), passes a tree without one, and
 * passes on this repository, where `format/` declares its own big-file seam
 * instead of importing `store/`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { folderCycles, folderEdges, sourceFiles } from "../scripts/check_imports.ts";
import type { BigFileStore } from "../format/mod.ts";
import { MemoryObjectStore } from "../store/memory.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "des-imports-test-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
  return root;
}

async function cyclesOf(files: Record<string, string>) {
  const root = await tree(files);
  try {
    return folderCycles(await folderEdges(root, sourceFiles(root)));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("check_imports: a cycle through three folders is found, with its imports", async () => {
  const cycles = await cyclesOf({
    "a/x.ts": `import { y } from "../b/y.ts";\nexport const x = y;\n`,
    "b/y.ts": `import { z } from "../c/z.ts";\nexport const y = z;\n`,
    "c/z.ts": `export type { T } from "../a/t.ts";\nexport const z = 1;\n`,
    "a/t.ts": `export type T = number;\n`,
    "d/free.ts": `import { x } from "../a/x.ts";\nexport const d = x;\n`,
  });
  assert.equal(cycles.length, 1);
  assert.deepEqual(cycles[0].folders, ["a", "b", "c"]);
  assert.deepEqual(
    cycles[0].edges.map((e) => `${e.from} ${e.to}`).sort(),
    ["a/x.ts b/y.ts", "b/y.ts c/z.ts", "c/z.ts a/t.ts"],
  );
});

Deno.test("check_imports: imports in comments do not count; a layered tree passes", async () => {
  const cycles = await cyclesOf({
    "low/a.ts": `/** \`import { b } from "../high/b.ts";\` */\nexport const a = 1;\n`,
    "high/b.ts": `import { a } from "../low/a.ts";\nexport const b = a;\n`,
    "mod.ts": `export { b } from "./high/b.ts";\n`,
  });
  assert.deepEqual(cycles, []);
});

Deno.test("check_imports: imports made by tests/ do not count", async () => {
  const cycles = await cyclesOf({
    "tests/helper.ts": `export const h = 1;\n`,
    "tests/x_test.ts": `import { x } from "../bench/x.ts";\nexport const t = x;\n`,
    "bench/x.ts": `import { h } from "../tests/helper.ts";\nexport const x = h;\n`,
  });
  assert.deepEqual(cycles, []);
});

Deno.test("check_imports: the repository has no import cycle between top-level folders", async () => {
  const cycles = folderCycles(await folderEdges(ROOT, sourceFiles(ROOT)));
  assert.deepEqual(cycles.map((c) => c.folders), []);
});

Deno.test("an ObjectStore is a BigFileStore (structural seam)", async () => {
  const store: BigFileStore = new MemoryObjectStore({ name: "seam" });
  await store.put("k", new TextEncoder().encode("hello"), { contentLength: 5 });
  const got = await store.get("k", { range: { offset: 1, length: 3 } });
  assert.equal(got.length, 3);
  assert.equal(new TextDecoder().decode(await new Response(got.body).bytes()), "ell");
  await store.delete("k");
});
