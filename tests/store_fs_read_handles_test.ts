import { assertEquals, assertRejects } from "./_helpers/assert.ts";
import { DesConflictError, DesNotFoundError } from "../core/errors.ts";
import { readAll } from "../store/object_store.ts";
import { FsObjectStore } from "../store/fs.ts";
import { ReadHandles } from "../store/fs_read_handles.ts";

const bytesOf = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255);

Deno.test("fs store: ranged reads through cached handles follow a replaced or deleted object", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-fs-handles-" });
  const store = new FsObjectStore(dir);
  try {
    const first = bytesOf(10_000, 1);
    const put = await store.put("c/one", first);
    const reads = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const got = await store.get("c/one", {
          range: { offset: i * 400, length: 300 },
          ifMatch: put.etag,
        });
        return { got, bytes: await readAll(got.body) };
      }),
    );
    reads.forEach(({ got, bytes }, i) => {
      assertEquals(got.start, i * 400);
      assertEquals(bytes, first.subarray(i * 400, i * 400 + 300), `concurrent read ${i}`);
      assertEquals(got.info.etag, put.etag);
    });
    // Replaced under the same key: the next read sees the new object, the old ETag conflicts.
    await new Promise((ok) => setTimeout(ok, 20));
    const second = bytesOf(9_000, 2);
    const replaced = await store.put("c/one", second);
    const again = await store.get("c/one", { range: { offset: 100, length: 50 } });
    assertEquals(await readAll(again.body), second.subarray(100, 150));
    assertEquals(again.info.etag, replaced.etag);
    await assertRejects(
      () => store.get("c/one", { range: { offset: 0, length: 10 }, ifMatch: put.etag }),
      DesConflictError,
    );
    const tail = await store.get("c/one", { range: { offset: 8_990, length: 100 } });
    assertEquals(await readAll(tail.body), second.subarray(8_990));
    await store.delete("c/one");
    await assertRejects(
      () => store.get("c/one", { range: { offset: 0, length: 10 } }),
      DesNotFoundError,
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fs read handles: at most the bound stay open; close closes them all", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-fs-handles-" });
  const handles = new ReadHandles(2);
  try {
    for (let i = 0; i < 5; i++) await Deno.writeFile(`${dir}/f${i}`, bytesOf(100, i));
    for (let i = 0; i < 5; i++) {
      const read = await handles.read(`${dir}/f${i}`, `f${i}`, () => ({ start: 10, length: 5 }));
      assertEquals(read.bytes, bytesOf(100, i).subarray(10, 15));
      assertEquals(handles.size <= 2, true);
    }
    assertEquals(handles.size, 2);
    await handles.close();
    assertEquals(handles.size, 0);
  } finally {
    await handles.close();
    await Deno.remove(dir, { recursive: true });
  }
});
