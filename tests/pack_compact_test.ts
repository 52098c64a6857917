/**
 * Compaction end to end against PostgreSQL and the S3 server: containers
 * packed by the packer lose 40 % of their files to tombstones and are
 * compacted while eight readers read every live name through two
 * retrievers (one following NOTIFY with a disk byte cache, one deaf to
 * NOTIFY that learns only from a 404 of the deleted object): no read fails,
 * not even of a big file whose object went with the container it was read from,
 * every byte is identical, deleted names are never served after the switch.
 * After the grace period no object in the bucket and no byte cache file
 * holds a deleted file's bytes, and every tombstone is erased. The
 * threshold is respected and bad settings are refused.
 */

import { loadConfig } from "../core/config.ts";
import { DesConfigError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { getContainer, listContainers } from "../db/containers.ts";
import type { Db } from "../db/db.ts";
import { ERASED_BIG_FILE } from "../lifecycle/delete_name.ts";
import { compactCommand } from "../pack/compact_main.ts";
import { Compactor } from "../pack/compactor.ts";
import { reportPackError } from "../pack/main.ts";
import type { Packer } from "../pack/packer.ts";
import { COMPACT_USAGE } from "../pack/usage.ts";
import { Retriever } from "../retriever/retriever.ts";
import { fetchGetStore } from "./_helpers/archive_fixture.ts";
import { bytesEqual } from "../format/binary.ts";
import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import {
  assertArchiveConsistent,
  contentByName,
  deleteNames,
  packWorld,
  randomContent,
  scanDirFor,
  scanStoreFor,
  visibleFiles,
} from "./_helpers/lifecycle.ts";
import { createPackWorld, type PackWorld } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

const quiet = new Logger("compact-test", { level: "error" });
const BIG_FILE_THRESHOLD = 2000;

Deno.test("compactor: a bad DES_COMPACT_THRESHOLD or DES_COMPACT_GRACE is refused by name", async () => {
  for (
    const [name, value] of [
      ["DES_COMPACT_THRESHOLD", "1.5"],
      ["DES_COMPACT_THRESHOLD", "-0.2"],
      ["DES_COMPACT_THRESHOLD", "thirty"],
      ["DES_COMPACT_GRACE", "soon"],
    ]
  ) {
    const error = (() => {
      try {
        loadConfig(new Map([[name, value]]));
      } catch (e) {
        return e;
      }
    })();
    assert(error instanceof DesConfigError, `${name}=${value} accepted`);
    assert(error.message.includes(name), error.message);
  }
  assertEquals(loadConfig(new Map()).compactThreshold, 0.3);
  assertEquals(loadConfig(new Map()).compactGrace, 600_000);
  const env = new Map([["DES_COMPACT_THRESHOLD", "2"], ["DES_DATABASE_URL", "embedded:memory"]]);
  const error = await assertRejects(() => compactCommand(["--once"], env), DesConfigError);
  assert(error.message.includes("DES_COMPACT_THRESHOLD"), error.message);
  assert(error.message.includes("ratio"), error.message);
  assertEquals(reportPackError("compact", error, COMPACT_USAGE), 2);
});

Deno.test({
  name: "compactor: 29 % dead bytes is left alone at 0.3, 31 % is compacted",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 240,
      shardBits: 1,
      allEligible: true,
      size: () => 400,
    });
    try {
      const { packer, close } = await packWorld(world, {
        maxContainerFiles: 60,
        bigFileThreshold: BIG_FILE_THRESHOLD,
      });
      try {
        const files = await visibleFiles(world.meta.db, world.archive);
        const big = (await listContainers(world.meta.db, { states: VISIBLE_STATES }))
          .filter((c) => (c.fileCount ?? 0) >= 50);
        assert(big.length >= 2, "two containers of at least 50 files");
        const [below, above] = big;
        const namesOf = (id: string) =>
          [...files].filter(([, f]) => f.containerId === id).map(([n]) => n).sort();
        const belowDead = Math.round(0.29 * below.fileCount!);
        const aboveDead = Math.round(0.31 * above.fileCount!);
        await deleteNames(
          world.meta.db,
          world.archive,
          world.shardBits,
          [
            ...namesOf(below.containerId).slice(0, belowDead),
            ...namesOf(above.containerId).slice(0, aboveDead),
          ],
        );
        const compactor = compactorOf(packer, world, 600_000);
        const result = await compactor.runOnce();
        assertEquals(result.errors, []);
        assertEquals(result.compacted, 1);
        assertEquals((await getContainer(world.meta.db, below.containerId))!.state, below.state);
        const old = (await getContainer(world.meta.db, above.containerId))!;
        assertEquals(old.state, "retired");
        assert(old.retiredAt !== null && old.replacedBy !== null);
        const replacement = (await getContainer(world.meta.db, old.replacedBy))!;
        assertEquals(replacement.state, "parent_updated");
        assertEquals(replacement.compactedFrom, [above.containerId]);
        assertEquals(replacement.fileCount, above.fileCount! - aboveDead);
        assertEquals(replacement.deadBytes, 0);
        const ratio = compactor.metrics.registry.render();
        assert(/des_compact_containers_total 1/.test(ratio), ratio);
      } finally {
        await close();
      }
    } finally {
      await world.close();
    }
  },
});

Deno.test({
  name:
    "compactor: 40 % deleted, 8 readers through 2 retrievers: no failed read, no deleted byte left",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({
      fsRows: 200,
      shardBits: 1,
      allEligible: true,
      size: (i) => i % 10 === 0 ? 2500 : 300 + (i * 37) % 700,
      content: randomContent,
    });
    const retrievers: Retriever[] = [];
    let stopReaders = () => {};
    try {
      const { packer, close } = await packWorld(world, {
        maxContainerFiles: 40,
        bigFileThreshold: BIG_FILE_THRESHOLD,
      });
      try {
        const fs = world.sources.get("docs-fs")!;
        const contentOf = await contentByName(fs);
        const files = await visibleFiles(world.meta.db, world.archive);
        const names = [...files.keys()].sort();
        const oldIds = new Set([...files.values()].map((f) => f.containerId));
        // Two files in five of each container, more when those hold too few of its bytes.
        const deleted: string[] = [];
        for (const id of oldIds) {
          const own = names.filter((n) => files.get(n)!.containerId === id);
          const total = own.reduce((sum, n) => sum + files.get(n)!.size, 0);
          let dead = 0;
          own.forEach((n, i) => {
            if (i % 5 < 2 || dead <= 0.35 * total) {
              deleted.push(n);
              // A deleted big file's object goes at once: it adds no dead bytes.
              const size = files.get(n)!.size;
              dead += size > BIG_FILE_THRESHOLD ? 0 : size;
            }
          });
        }
        const live = names.filter((n) => !deleted.includes(n));

        const cacheDir = `${world.dir}/bytes`;
        const reads = fetchGetStore(world.archive);
        const options = {
          range: { start: 0, end: 1 },
          nameFormat: { shardBits: world.shardBits, prefix: "" },
          storeFor: () => reads,
          readinessBucket: world.archive.bucket,
          log: quiet,
        };
        const notified = await Retriever.start({
          ...options,
          id: "notified",
          db: world.meta.db,
          byteCache: { memoryBytes: 1 << 20, diskBytes: 4 << 20, dir: cacheDir },
        });
        retrievers.push(notified);
        const deaf = await Retriever.start({
          ...options,
          id: "deaf",
          db: deafTo(world.meta.db),
          catalogRefreshMs: 0,
        });
        retrievers.push(deaf);
        // Deaf too, and no reader of its own: it keeps the old indexes open in memory.
        const pinned = await Retriever.start({
          ...options,
          id: "pinned",
          db: deafTo(world.meta.db),
          catalogRefreshMs: 0,
        });
        retrievers.push(pinned);
        // Every file read twice: the byte cache admits files on their second miss.
        for (let pass = 0; pass < 2; pass++) {
          for (const name of names) assertEquals((await get(notified, name)).status, 200);
        }
        for (const name of names) assertEquals((await get(pinned, name)).status, 200);
        await notified.byteCache!.flush();
        assert((await scanDirFor(cacheDir, payloadsOf(deleted, contentOf))).length > 0);
        await deleteNames(world.meta.db, world.archive, world.shardBits, deleted);

        const stop = { now: false };
        stopReaders = () => stop.now = true;
        const errors: string[] = [];
        const passes = new Array(8).fill(0);
        const readers = Array.from({ length: 8 }, async (_, i) => {
          const r = i % 2 === 0 ? notified : deaf;
          while (!stop.now) {
            for (const name of shuffled(live)) {
              const res = await get(r, name);
              if (res.status !== 200) errors.push(`${r.id} ${name}: ${res.status} ${res.text}`);
              else if (!bytesEqual(res.bytes, contentOf.get(name)!)) {
                errors.push(`${name}: bytes differ`);
              }
            }
            passes[i]++;
          }
        });

        const compactor = compactorOf(packer, world, 1000);
        const first = await compactor.runOnce();
        assertEquals(first.errors, []);
        assertEquals(first.compacted, oldIds.size);
        await until(() => [...oldIds].every((id) => !notified.catalog.get(id)), "retire NOTIFY");
        for (const name of deleted) {
          const status = (await get(notified, name)).status;
          assert(status === 410 || status === 404, `${name} answered ${status} after the switch`);
        }

        // Past the grace period the old objects go; the deaf retriever's pinned reads get
        // 404 from the store, reload its catalog and read the replacement.
        let objectsDeleted = first.objectsDeleted;
        await until(async () => {
          const run = await compactor.runOnce();
          assertEquals(run.errors, []);
          objectsDeleted += run.objectsDeleted;
          return objectsDeleted === oldIds.size;
        }, "the end of the grace period");
        // A big file read through an index of a deleted container: its object went with
        // that container, so the retriever reloads the catalog and reads the replacement.
        const liveBig = live.filter((n) => files.get(n)!.size > BIG_FILE_THRESHOLD);
        assert(liveBig.length > 0, "no live big file");
        for (const name of liveBig) {
          const res = await get(pinned, name);
          assertEquals(res.status, 200, `pinned ${name}: ${res.text}`);
          assert(bytesEqual(res.bytes, contentOf.get(name)!), `pinned ${name}: bytes differ`);
        }
        const after = [...passes];
        await until(() => passes.every((n, i) => n >= after[i] + 2), "two passes after deletion");
        stop.now = true;
        await Promise.all(readers);
        assertEquals(errors.slice(0, 5), []);
        // The deaf retriever learned of the replacement only from the store's answers.
        const conflicts = /des_retriever_object_conflicts_total (\d+)/.exec(
          deaf.metrics.registry.render(),
        );
        assert(conflicts && Number(conflicts[1]) > 0, "the deaf retriever never retried");
        for (const name of deleted) {
          const status = (await get(deaf, name)).status;
          assert(status === 410 || status === 404, `${name} answered ${status} after deletion`);
        }

        // Proof of erasure: no object and no byte cache file holds a deleted file's bytes.
        const payloads = payloadsOf(deleted, contentOf);
        assertEquals(await scanStoreFor(world.archive, payloads), []);
        await until(
          async () => (await scanDirFor(cacheDir, payloads)).length === 0,
          "byte cache drop",
        );
        const tombstones = await world.meta.db.query<{ erasedAt: Date | null; erasedBy: string }>(
          `select erased_at as "erasedAt", erased_by as "erasedBy" from des_tombstones`,
        );
        assertEquals(tombstones.length, deleted.length);
        for (const t of tombstones) {
          // Big files are deleted with their tombstone; the rest with the old containers
          // (replaced, or retired alone when every file of a small one was deleted).
          assert(t.erasedAt !== null, "a tombstone is not erased");
          assert(
            t.erasedBy === ERASED_BIG_FILE || t.erasedBy.startsWith("compaction: "),
            t.erasedBy,
          );
        }
        for (const id of oldIds) {
          const row = (await getContainer(world.meta.db, id))!;
          assertEquals(row.state, "deleted");
          assert(row.objectDeletedAt !== null);
        }
        // Live rows point at the container that holds their file now.
        const now = await visibleFiles(world.meta.db, world.archive);
        assertEquals([...now.keys()].sort(), live);
        await assertArchiveConsistent(world, fs, now);
      } finally {
        await close();
      }
    } finally {
      stopReaders();
      for (const r of retrievers) await r.close();
      await world.close();
    }
  },
});

function compactorOf(packer: Packer, world: PackWorld, graceMs: number): Compactor {
  return new Compactor(packer.context, {
    rangeStart: 0,
    rangeEnd: 2 ** world.shardBits - 1,
    threshold: 0.3,
    graceMs,
    bigFileThreshold: BIG_FILE_THRESHOLD,
  });
}

/** The database, except that LISTEN hears nothing: a retriever that missed every NOTIFY. */
function deafTo(db: Db): Db {
  return new Proxy(db, {
    get(target, property) {
      if (property === "listen") return () => Promise.resolve(() => Promise.resolve());
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function get(r: Retriever, name: string) {
  const res = await r.handle(new Request(`http://des/files/${name}`));
  const bytes = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    bytes,
    text: res.status === 200 ? "" : new TextDecoder().decode(bytes).slice(0, 300),
  };
}

function payloadsOf(names: string[], contentOf: Map<string, Uint8Array>) {
  return new Map(names.map((n) => [n, contentOf.get(n)!]));
}

function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Wait for `condition` (a generous bound only catches a hang). */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
