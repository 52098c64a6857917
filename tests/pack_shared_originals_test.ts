/**
 * Shared originals with `DES_DELETE_SOURCES=true`: two parent rows name the
 * same file. Packing the first keeps the file while the second still needs
 * it; packing the second packs the same bytes and only then deletes it.
 */

import { Logger } from "../core/log.ts";
import { DesReader } from "../format/reader.ts";
import { Packer } from "../pack/packer.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import {
  auditArchive,
  createPackWorld,
  parentStates,
  worldPackerOptions,
} from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const quiet = new Logger("packer", { level: "error" });

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test({
  name: "shared originals: a file two rows name is deleted only when no row still needs it",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 12, shardBits: 2, allEligible: true });
    try {
      const fs = world.sources.get("docs-fs")!;
      const table = fs.fixture.table;
      const [first, second, other] = fs.fixture.rows;
      const shared = `${fs.fixture.originalsRoot}/${first.location}`;
      // The second row names the first row's file and is too young to be archived yet.
      await fs.fixture.db.query(
        `UPDATE ${table} SET file_path = $2, inserted_on = now() WHERE doc_id::text = $1`,
        [second.id, first.location],
      );
      fs.rowsById.get(second.id)!.location = first.location;
      const pack = async () => {
        const opened = await world.openSources();
        try {
          const options = worldPackerOptions(world, opened, { deleteSources: true, logger: quiet });
          return await new Packer(options).runOnce();
        } finally {
          await opened.close();
        }
      };

      await world.markAll();
      const run1 = await pack();
      assertEquals([run1.errors, run1.failedRows], [[], 0]);
      const byId = async () => new Map((await parentStates(fs)).map((p) => [p.id, p]));
      let states = await byId();
      assertEquals(states.get(first.id)!.status, "archived");
      assertEquals(states.get(second.id)!.status, "live");
      assert(await exists(shared), "the shared original was deleted while a live row names it");
      assert(!await exists(`${fs.fixture.originalsRoot}/${other.location}`), "others are released");

      // Now the second row becomes eligible, is marked and packed: the same bytes, then deletion.
      await fs.fixture.db.query(
        `UPDATE ${table} SET inserted_on = now() - interval '100 days' WHERE doc_id::text = $1`,
        [second.id],
      );
      await world.markAll();
      const run2 = await pack();
      assertEquals([run2.errors, run2.failedRows, run2.files], [[], 0, 1]);
      states = await byId();
      const row = states.get(second.id)!;
      assertEquals([row.status, row.error], ["archived", null]);
      assert(!await exists(shared), "the shared original outlived the last row that needed it");
      const key = row.container!.slice(`${world.archive.url}/`.length);
      const reader = await DesReader.open(new StoreRangeSource(world.archive, key));
      assertEquals(await reader.readFile(row.name!), fs.fixture.contentOf(first));

      const audit = await auditArchive(world, {
        final: true,
        deleteSources: true,
        contents: false,
      });
      assertEquals([audit.packedRows, audit.failedRows], [fs.fixture.rows.length, 0]);
    } finally {
      await world.close();
    }
  },
});
