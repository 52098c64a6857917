/**
 * A delete asked by the parent (its row set to the deleted status) on a
 * packed archive, served by `deno task serve`'s all-in-one process (with
 * its byte cache holding the name hot) and by a separate retriever: the
 * reaper in the serve loop tombstones the name, and both answer GET and
 * HEAD with 410 from then on; the big file's object is deleted and its row
 * purged. `des erasure-report` tells the two apart: erased (exit 0) and
 * still stored awaiting compaction (exit 1).
 */

import { loadConfig } from "../core/config.ts";
import { Logger } from "../core/log.ts";
import { loadGatewaySettings } from "../gateway/gateway_config.ts";
import { Retriever } from "../retriever/retriever.ts";
import { startAllInOne } from "../serve/all_in_one.ts";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { createDeleteWorld, DELETE_STATUSES } from "./_helpers/delete_world.ts";
import { archiveKeys } from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { until } from "./_helpers/until.ts";

/** A generous bound: NOTIFY arrives within a second; this only catches a hang. */
const PROPAGATION_BOUND_MS = 15_000;

const CLI = new URL("../cli/des.ts", import.meta.url).pathname;

async function erasureReport(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "erasure-report", ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test({
  name: "parent delete: the serve loop reaps it; serve and a retriever answer 410",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const w = await createDeleteWorld(8);
    const closers: (() => Promise<unknown>)[] = [];
    try {
      const env = new Map(Object.entries({
        ...w.world.env,
        DES_PACKER_WORKDIR: `${w.world.dir}/serve-work`,
        DES_KV_PATH: `${w.world.dir}/serve.kv`,
        DES_CACHE_MEMORY_BYTES: "1MiB",
        DES_CACHE_DISK_BYTES: "1MiB",
        DES_CACHE_DIR: `${w.world.dir}/serve-cache`,
      }));
      const serve = await startAllInOne({
        config: loadConfig(env),
        gateway: await loadGatewaySettings(env),
        sourcesPath: w.sourcesPath,
        env,
        hostname: "127.0.0.1",
        port: 0,
        markIntervalMs: 0,
        packIntervalMs: 0,
        log: new Logger("serve", { level: "error" }),
      });
      closers.push(() => serve.close());
      const retriever = await Retriever.start({
        id: "r-direct",
        range: { start: 0, end: 2 ** w.world.shardBits - 1 },
        nameFormat: { shardBits: w.world.shardBits, prefix: "" },
        db: w.world.meta.db,
        storeFor: () => w.world.archive,
        readinessBucket: w.world.archive.bucket,
        catalogRefreshMs: 0,
        log: new Logger("retriever", { level: "error" }),
      });
      closers.push(() => retriever.close());
      const viaServe = async (method: string, name: string) => {
        const res = await fetch(`${serve.url}/files/${name}`, { method });
        await res.body?.cancel();
        return res.status;
      };
      const direct = async (method: string, name: string) => {
        const res = await retriever.handle(new Request(`http://des/files/${name}`, { method }));
        await res.body?.cancel();
        return res.status;
      };
      const [hot, kept] = w.packedRows;
      for (let i = 0; i < 3; i++) assertEquals(await viaServe("GET", hot.name), 200);
      assertEquals(await direct("GET", w.bigRow.name), 200);

      await w.askDelete([hot.id, w.bigRow.id]);
      const [reaped] = await serve.reapOnce();
      assertEquals([reaped.tombstoned, reaped.purged], [2, 1]);

      for (const name of [hot.name, w.bigRow.name]) {
        for (const method of ["GET", "HEAD"]) {
          await until(
            async () => (await viaServe(method, name)) === 410,
            `serve answers 410 to ${method} ${name}`,
            PROPAGATION_BOUND_MS,
          );
          await until(
            async () => (await direct(method, name)) === 410,
            `the retriever answers 410 to ${method} ${name}`,
            PROPAGATION_BOUND_MS,
          );
        }
      }
      assertEquals(await viaServe("GET", kept.name), 200, "other names stay readable");
      assertEquals((await w.row(w.bigRow.id)).status, DELETE_STATUSES.purged);
      assertEquals((await w.row(hot.id)).status, DELETE_STATUSES.deleted);
      assert(!(await archiveKeys(w.world)).some((k) => k.includes("_bigFiles/")));

      const cliEnv = {
        DES_DATABASE_URL: w.world.meta.url,
        DES_SHARD_BITS: String(w.world.shardBits),
      };
      const erased = await erasureReport([w.bigRow.name], cliEnv);
      assertEquals(erased.code, 0, erased.stdout);
      assertMatch(erased.stdout, /deleted: +\S+ by parent \(docs-fs\)/);
      assertMatch(erased.stdout, /erased: +\S+ \(big-file-deleted\)/);
      assertMatch(erased.stdout, /purged: +\d{4}-/);
      const stored = await erasureReport([hot.name], cliEnv);
      assertEquals(stored.code, 1, stored.stdout);
      assertMatch(stored.stdout, /still stored in container [0-9a-f]+ .*\(awaiting compaction\)/);
      assertMatch(stored.stdout, /purged: +not yet/);
      const json = await erasureReport([hot.name, "--json"], cliEnv);
      const report = JSON.parse(json.stdout);
      assertEquals([report.bytes, report.tombstone.bytes], ["stored", hot.size]);
      assertEquals(report.tombstone.origin, "parent");
      const never = await erasureReport([kept.name], cliEnv);
      assertEquals([never.code, never.stdout.includes("not deleted")], [1, true]);
      assertEquals((await erasureReport(["not-a-name"], cliEnv)).code, 2);
    } finally {
      for (const close of closers.reverse()) await close().catch(() => {});
      await w.close();
    }
  },
});
