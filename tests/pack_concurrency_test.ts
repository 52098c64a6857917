/**
 * Three packers with overlapping shard ranges run at once on one workload:
 * a shard is worked on by one packer at a time (its lease), and every file
 * ends up in exactly one committed container.
 */

import { Logger } from "../core/log.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { listContainers } from "../db/containers.ts";
import { listShards } from "../db/shards.ts";
import { Packer } from "../pack/packer.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { auditArchive, createPackWorld } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";

interface Hold {
  shard: number;
  owner: string;
  start: number;
  end: number;
}

Deno.test({
  name: "packer: three packers on overlapping ranges share shards one at a time",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 240, s3Rows: 60 });
    try {
      await world.markAll();
      const eligible = [...world.sources.values()].reduce(
        (n, s) => n + s.fixture.eligibleIds.size,
        0,
      );
      const ranges: [number, number][] = [[0, 9], [4, 15], [0, 15]];
      const holds: Hold[] = [];
      const open = new Map<string, Hold>();
      let leaseViolations = 0;
      const opened = await world.openSources();
      try {
        const packers = ranges.map(([rangeStart, rangeEnd], i) =>
          new Packer({
            db: world.meta.db,
            sources: [...opened.byName.values()],
            store: world.archive,
            shardBits: world.shardBits,
            workdir: `${world.dir}/work-${i}`,
            owner: `packer-${i}`,
            rangeStart,
            rangeEnd,
            maxContainerFiles: 6,
            bigFileThreshold: 1900,
            fetchConcurrency: 3,
            logger: new Logger("packer", { level: "error" }),
            onShard: ({ shard, owner, phase }) => {
              const key = `${shard}`;
              if (phase === "start") {
                if (open.has(key)) leaseViolations++;
                open.set(key, { shard, owner, start: performance.now(), end: Infinity });
              } else {
                const hold = open.get(key)!;
                open.delete(key);
                hold.end = performance.now();
                holds.push(hold);
              }
            },
          })
        );
        const watcher = watchLeases(world.meta.db);
        const results = await Promise.all(packers.map((p) => p.runOnce()));
        const seen = await watcher.stop();
        for (const r of results) assertEquals(r.errors, []);
        assertEquals(leaseViolations, 0, "a shard was held by two packers at once");
        assertEquals(results.reduce((n, r) => n + r.files, 0), eligible);
        // Several packers did real work, each on shards of its own range.
        const working = results.filter((r) => r.files > 0).length;
        assert(working >= 2, `only ${working} packer(s) packed anything`);
        for (const [i, r] of results.entries()) {
          for (const h of holds.filter((h) => h.owner === `packer-${i}`)) {
            assert(h.shard >= ranges[i][0] && h.shard <= ranges[i][1], `shard ${h.shard} outside`);
          }
          assert(r.shards + r.busyShards >= 1);
        }
        // Every shard's holds by different owners are disjoint in time.
        for (let s = 0; s < 2 ** world.shardBits; s++) {
          const list = holds.filter((h) => h.shard === s).sort((a, b) => a.start - b.start);
          for (let i = 1; i < list.length; i++) {
            assert(list[i].start >= list[i - 1].end, `shard ${s} held twice at once`);
          }
        }
        // The lease column never showed more than one owner per shard, and it named our packers.
        assert(seen.owners.size >= 2, `lease owners seen: ${[...seen.owners].join(", ")}`);
        const containers = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        for (const c of containers) {
          assert(/^packer-[0-2]$/.test(c.owner ?? ""), `container owner ${c.owner}`);
          const during = holds.filter((h) => h.shard === c.shard && h.owner === c.owner);
          assert(during.length > 0, `container ${c.key} by ${c.owner} without a lease`);
        }
        const audit = await auditArchive(world, { final: true, deleteSources: false });
        assertEquals(audit.files, eligible);
        assert((await listShards(world.meta.db)).every((s) => s.leaseOwner === null));
      } finally {
        await opened.close();
      }
    } finally {
      await world.close();
    }
  },
});

/** Poll `des_shards` while packers run, collecting the lease owners seen. */
function watchLeases(
  db: { query<T>(text: string): Promise<T[]> },
): { stop(): Promise<{ owners: Set<string> }> } {
  const owners = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await db.query<{ owner: string }>(
        "select lease_owner as owner from des_shards where lease_owner is not null",
      );
      for (const r of rows) owners.add(r.owner);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { owners };
    },
  };
}
