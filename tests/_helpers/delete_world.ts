/**
 * A packed archive whose parent source has a deletion rule, for the delete
 * tests: a pack world (one source, filesystem originals) marked and packed,
 * row 0 stored as a big file beside its container, plus one row marked
 * after the packing (never packed), and helpers to ask for deletes the way a
 * parent does and to read the rows back.
 *
 * @module
 */

import { Logger } from "../../core/log.ts";
import { Packer } from "../../pack/packer.ts";
import { ParentTable } from "../../parent/parent_table.ts";
import { loadSources, type SourceConfig } from "../../parent/sources.ts";
import { createPackWorld, type PackWorld, worldPackerOptions } from "./pack_world.ts";
import { FIXTURE_STATUSES } from "./parent_fixture.ts";

/** Status values of the deletion rule in the delete world. */
export const DELETE_STATUSES = { deleted: "gone", purged: "erased" } as const;

/** Files above this size are big files in the delete world. */
export const DELETE_WORLD_BIG_FILE_THRESHOLD = 4096;

/** A parent row of the delete world. */
export interface WorldRow {
  /** Parent id. */
  id: string;
  /** Status value. */
  status: string;
  /** DES name. */
  name: string;
  /** Shard of the name. */
  shard: number;
  /** Size of the original. */
  size: number;
  /** Failure note. */
  error: string | null;
}

/** The delete world. */
export interface DeleteWorld {
  /** The pack world underneath (metadata DB, archive bucket, parent fixture). */
  world: PackWorld;
  /** The source with its deletion rule. */
  source: SourceConfig;
  /** A sources.yaml naming the source with its deletion rule. */
  sourcesPath: string;
  /** Its parent table, with the deletion rule. */
  table: ParentTable;
  /** Every row with a DES name, by id order. */
  rows(): Promise<WorldRow[]>;
  /** The packed row stored as a big file. */
  bigRow: WorldRow;
  /** The row marked after packing: it has a name and no container. */
  unpackedRow: WorldRow;
  /** Packed rows stored inside containers. */
  packedRows: WorldRow[];
  /** Ask for deletes the way a parent does: set the rows' status to the deleted value. */
  askDelete(ids: readonly string[]): Promise<void>;
  /** A row by id. */
  row(id: string): Promise<WorldRow>;
  /** Tear down. */
  close(): Promise<void>;
}

/** Build a delete world with `rows` parent rows (all eligible). */
export async function createDeleteWorld(rows = 12): Promise<DeleteWorld> {
  const world = await createPackWorld({
    fsRows: rows,
    allEligible: true,
    size: (i) => (i === 0 ? DELETE_WORLD_BIG_FILE_THRESHOLD * 3 : 200 + i * 13),
  });
  try {
    const fixture = world.sources.get("docs-fs")!.fixture;
    const sourcesPath = `${world.dir}/sources-with-deletes.yaml`;
    const failed = `failed: ${FIXTURE_STATUSES.failed}\n`;
    await Deno.writeTextFile(
      sourcesPath,
      (await Deno.readTextFile(world.sourcesPath)).replace(
        failed,
        `${failed}      deleted: ${DELETE_STATUSES.deleted}\n      purged: ${DELETE_STATUSES.purged}\n`,
      ),
    );
    const [source] = await loadSources(sourcesPath, new Map(Object.entries(world.env)));
    if (source.statuses.deleted !== DELETE_STATUSES.deleted) throw new Error("no deletion rule");
    const table = new ParentTable(fixture.db, source);
    // The last row is held back from the packing and marked afterwards.
    const held = fixture.rows[fixture.rows.length - 1];
    await fixture.db.query(`update ${fixture.table} set tenant = 'legal-hold' where doc_id = $1`, [
      held.id,
    ]);
    await world.markAll();
    const opened = await world.openSources();
    try {
      await new Packer(worldPackerOptions(world, opened, {
        bigFileThreshold: DELETE_WORLD_BIG_FILE_THRESHOLD,
        logger: new Logger("packer", { level: "error" }),
      })).runOnce();
    } finally {
      await opened.close();
    }
    await fixture.db.query(`update ${fixture.table} set tenant = 'main' where doc_id = $1`, [
      held.id,
    ]);
    await world.markAll();
    const readRows = () =>
      fixture.db.query<WorldRow>(
        `select doc_id::text as id, state as status, archive_name as name, archive_shard as shard,
           byte_size::int as size,
           failure_note as error
         from ${fixture.table} where archive_name is not null order by doc_id`,
      );
    const all = await readRows();
    const byId = (id: string) => all.find((r) => r.id === id)!;
    const unpackedRow = byId(held.id);
    if (unpackedRow.status !== FIXTURE_STATUSES.marked) {
      throw new Error(`the held row is ${unpackedRow.status}, not marked`);
    }
    const bigRow = byId(fixture.rows[0].id);
    if (bigRow.status !== FIXTURE_STATUSES.packed) throw new Error("the big row was not packed");
    return {
      world,
      source,
      sourcesPath,
      table,
      rows: readRows,
      bigRow,
      unpackedRow,
      packedRows: all.filter((r) => r.status === FIXTURE_STATUSES.packed && r.id !== bigRow.id),
      askDelete: async (ids) => {
        await fixture.db.query(
          `update ${fixture.table} set state = $2 where doc_id = any($1::bigint[])`,
          [[...ids], DELETE_STATUSES.deleted],
        );
      },
      row: async (id) => (await readRows()).find((r) => r.id === id)!,
      close: () => world.close(),
    };
  } catch (error) {
    await world.close();
    throw error;
  }
}
