import { DesConfigError, DesInputError, DesNotFoundError } from "../core/errors.ts";
import { FsOriginals, openOriginals } from "../parent/originals.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./_helpers/assert.ts";
import { createParentFixture } from "./_helpers/parent_fixture.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store } from "./_helpers/s3.ts";

Deno.test("fs originals: read, stat and delete by the parent's location", async () => {
  const fx = await createParentFixture({ rows: 5 });
  try {
    const originals = openOriginals(fx.source);
    assertEquals(originals.url, `file://${fx.originalsRoot}`);
    const row = fx.rows[3];
    const file = await originals.read(row.location);
    assertEquals(file.body, fx.contentOf(row));
    assertEquals(file.size, row.size);
    assert(file.mtime instanceof Date);
    assertEquals((await originals.stat(row.location))?.size, row.size);
    const absolute = await originals.read(`${fx.originalsRoot}/${row.location}`);
    assertEquals(absolute.size, row.size);

    await originals.delete(row.location);
    assertEquals(await originals.stat(row.location), null);
    await assertRejects(() => originals.read(row.location), DesNotFoundError, row.location);
    await originals.delete(row.location);
  } finally {
    await fx.close();
  }
});

Deno.test("fs originals: locations that leave the root are refused", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${outside}/secret`, "x");
    await Deno.symlink(`${outside}/secret`, `${root}/link`);
    const originals = new FsOriginals(root);
    for (const bad of ["../secret", `${outside}/secret`, "a/../../secret", "", "a\0b"]) {
      assertThrows(() => originals.pathOf(bad), DesInputError);
      await assertRejects(() => originals.read(bad), DesInputError);
    }
    await assertRejects(() => originals.read("link"), DesInputError, "links outside");
    await assertRejects(() => originals.delete("../secret"), DesInputError);
    assertEquals(await Deno.readTextFile(`${outside}/secret`), "x");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("s3 originals need DES_S3_* unless a store is given", () => {
  assertThrows(
    () => openOriginals({ kind: "s3", bucket: "b", prefix: "p" }, { env: new Map() }),
    DesConfigError,
    "DES_S3_ACCESS_KEY_ID",
  );
});

Deno.test({
  name: "s3 originals: read, stat and delete under the configured prefix",
  ignore: s3TestIgnore(),
  fn: async () => {
    const store = await testS3Store("des-parent-originals");
    const fx = await createParentFixture({
      rows: 4,
      originals: { store, bucket: store.bucket, prefix: "scans/2024" },
    });
    try {
      assertEquals(fx.source.originals, { kind: "s3", bucket: store.bucket, prefix: "scans/2024" });
      const originals = openOriginals(fx.source, { store });
      assertEquals(originals.url, `s3://${store.bucket}/scans/2024`);
      const row = fx.rows[1];
      assertEquals((await originals.read(row.location)).body, fx.contentOf(row));
      const full = `s3://${store.bucket}/scans/2024/${row.location}`;
      assertEquals((await originals.read(full)).size, row.size);
      assertEquals((await originals.stat(row.location))?.size, row.size);
      await assertRejects(() => originals.read(`s3://other/${row.location}`), DesInputError);
      await originals.delete(row.location);
      assertEquals(await originals.stat(row.location), null);
      await assertRejects(() => originals.read(row.location), DesNotFoundError, "not found");
    } finally {
      await fx.close();
      await removeTestS3Store(store);
    }
  },
});
