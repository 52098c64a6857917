/**
 * One bad row never blocks its shard: rows whose original is a directory, a
 * FIFO, a symlink loop, a dangling symlink, NULL or empty, an S3 key that is
 * refused or never answered are each moved to the failed status with a
 * readable reason, and every other row of the shard is packed in the same
 * run, in bounded time. An outage of the whole originals store dead-letters
 * nothing. A file that changes while it is read is packed self-consistently.
 */

import { Logger } from "../core/log.ts";
import { DesReader } from "../format/reader.ts";
import { VISIBLE_STATES } from "../db/container_states.ts";
import { listContainers } from "../db/containers.ts";
import { openPackSources } from "../pack/pack_sources.ts";
import { Packer, type PackRunResult } from "../pack/packer.ts";
import { S3ObjectStore } from "../store/s3.ts";
import { StoreRangeSource } from "../store/range_source.ts";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import {
  auditArchive,
  createPackWorld,
  type PackWorld,
  parentStates,
  worldPackerOptions,
  type WorldSource,
} from "./_helpers/pack_world.ts";
import { s3TestIgnore } from "./_helpers/s3.ts";
import { startS3FaultProxy } from "./_helpers/s3_fault_proxy.ts";

const quiet = new Logger("packer", { level: "error" });
const MAIN = new URL("../pack/main.ts", import.meta.url).pathname;
/** Far above the normal cost of these runs; only a hang reaches it. */
const HANG_BOUND_MS = 180_000;

/** `promise`, or a rejection once `ms` have passed. */
async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Point the marked row `id` of `source` at `location` (NULL allowed). */
async function relocate(source: WorldSource, id: string, location: string | null) {
  await source.fixture.db.query(
    `UPDATE ${source.fixture.table} SET file_path = $2 WHERE doc_id::text = $1`,
    [id, location],
  );
}

async function markedIds(source: WorldSource): Promise<string[]> {
  return (await parentStates(source)).filter((p) => p.status === "queued").map((p) => p.id);
}

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert(out.success, `mkfifo ${path}`);
}

/** Make one row per kind of bad filesystem original; returns id → expected reason. */
async function plantBadFsRows(
  source: WorldSource,
  kinds: ("directory" | "fifo" | "loop" | "dangling" | "null" | "empty")[],
): Promise<Map<string, RegExp>> {
  await source.fixture.db.exec(
    `ALTER TABLE ${source.fixture.table} ALTER COLUMN file_path DROP NOT NULL`,
  );
  const root = source.fixture.originalsRoot!;
  const ids = await markedIds(source);
  const expected = new Map<string, RegExp>();
  for (const [i, kind] of kinds.entries()) {
    const id = ids[i * 3];
    if (kind === "directory") {
      await Deno.mkdir(`${root}/a-directory/inner`, { recursive: true });
      await relocate(source, id, "a-directory");
      expected.set(id, /is a directory, not a regular file/);
    } else if (kind === "fifo") {
      await mkfifo(`${root}/a-fifo`);
      await relocate(source, id, "a-fifo");
      expected.set(id, /is a FIFO \(named pipe\), not a regular file/);
    } else if (kind === "loop") {
      await Deno.symlink(`${root}/loop-b`, `${root}/loop-a`);
      await Deno.symlink(`${root}/loop-a`, `${root}/loop-b`);
      await relocate(source, id, "loop-a");
      expected.set(id, /symlink loop/);
    } else if (kind === "dangling") {
      await Deno.symlink(`${root}/nowhere`, `${root}/dangling`);
      await relocate(source, id, "dangling");
      expected.set(id, /dangling symlink/);
    } else if (kind === "null") {
      await relocate(source, id, null);
      expected.set(id, /has no location \(NULL or empty\)/);
    } else {
      await relocate(source, id, "");
      expected.set(id, /has no location \(NULL or empty\)/);
    }
  }
  return expected;
}

/** Every planted row is failed with its reason; every other eligible row is packed. */
async function checkOutcome(
  world: PackWorld,
  source: WorldSource,
  expected: Map<string, RegExp>,
): Promise<void> {
  for (const p of await parentStates(source)) {
    const reason = expected.get(p.id);
    if (reason) {
      assertEquals(p.status, "broken", `row ${p.id}`);
      assertMatch(p.error ?? "", reason);
    } else if (source.fixture.eligibleIds.has(p.id)) {
      assertEquals(p.status, "archived", `row ${p.id}: ${p.error}`);
    }
  }
  const audit = await auditArchive(world, { final: true, deleteSources: false });
  assertEquals(audit.failedRows, expected.size);
}

Deno.test({
  name: "bad rows: directory, FIFO, symlink loop, dangling symlink, NULL and empty location " +
    "are dead-lettered; the rest of each shard packs in the same run",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 40, shardBits: 2, allEligible: true });
    try {
      await world.markAll();
      const fs = world.sources.get("docs-fs")!;
      const expected = await plantBadFsRows(fs, [
        "directory",
        "fifo",
        "loop",
        "dangling",
        "null",
        "empty",
      ]);
      const opened = await world.openSources();
      try {
        const packer = new Packer(worldPackerOptions(world, opened, {
          logger: quiet,
          originalReadTimeoutMs: 2000,
          originalReadRetries: 1,
        }));
        const result = await bounded(packer.runOnce(), HANG_BOUND_MS, "pack run");
        assertEquals(result.errors, []);
        assertEquals(result.failedRows, expected.size);
        assertEquals(result.files, fs.fixture.eligibleIds.size - expected.size);
        await checkOutcome(world, fs, expected);
      } finally {
        await opened.close();
      }
    } finally {
      await world.close();
    }
  },
});

/** Sources of `world` whose S3 originals are read through `endpoint`. */
function viaEndpoint(world: PackWorld, endpoint: string) {
  const bucket = world.originalsStore!.bucket;
  const store = new S3ObjectStore({
    bucket,
    endpoint,
    region: Deno.env.get("DES_TEST_S3_REGION") || "us-east-1",
    accessKeyId: Deno.env.get("DES_TEST_S3_ACCESS_KEY_ID")!,
    secretAccessKey: Deno.env.get("DES_TEST_S3_SECRET_ACCESS_KEY")!,
  });
  return {
    store,
    open: () =>
      openPackSources(world.sourceConfigs, {
        originalStores: new Map([[bucket, store]]),
      }),
  };
}

Deno.test({
  name: "bad rows: an S3 key that is refused and one that never answers are dead-lettered " +
    "after the configured retries; the rest packs",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 0, s3Rows: 24, shardBits: 2, allEligible: true });
    const proxy = await startS3FaultProxy(Deno.env.get("DES_TEST_S3_ENDPOINT")!);
    const { store, open } = viaEndpoint(world, proxy.endpoint);
    try {
      await world.markAll();
      const s3 = world.sources.get("docs-s3")!;
      const [denied, silent] = await markedIds(s3);
      const keyOf = (id: string) =>
        `/${world.originalsStore!.bucket}/orig/${s3.rowsById.get(id)!.location}`;
      const gets = new Map<string, number>();
      proxy.rule = (method, path) => {
        if (method !== "GET") return "pass";
        const key = path.split("?")[0];
        gets.set(key, (gets.get(key) ?? 0) + 1);
        if (key === keyOf(denied)) return "deny";
        if (key === keyOf(silent)) return "stall";
        return "pass";
      };
      const opened = await open();
      try {
        const packer = new Packer(worldPackerOptions(world, opened, {
          logger: quiet,
          originalReadTimeoutMs: 1500,
          originalReadRetries: 2,
        }));
        const result = await bounded(packer.runOnce(), HANG_BOUND_MS, "pack run");
        assertEquals(result.errors, []);
        assertEquals(result.failedRows, 2);
        // A first attempt and two retries each (the S3 client may add its own).
        assert(gets.get(keyOf(denied))! >= 3, `denied key read ${gets.get(keyOf(denied))} times`);
        assert(gets.get(keyOf(silent))! >= 3, `silent key read ${gets.get(keyOf(silent))} times`);
        await checkOutcome(
          world,
          s3,
          new Map([[denied, /AccessDenied/], [silent, /timed out after 1.5 s/]]),
        );
      } finally {
        await opened.close();
      }
    } finally {
      store.close();
      await proxy.close();
      await world.close();
    }
  },
});

Deno.test({
  name: "bad rows: when the whole originals store stops answering, no row is dead-lettered",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 0, s3Rows: 6, shardBits: 1, allEligible: true });
    const proxy = await startS3FaultProxy(Deno.env.get("DES_TEST_S3_ENDPOINT")!);
    const { store, open } = viaEndpoint(world, proxy.endpoint);
    try {
      await world.markAll();
      const s3 = world.sources.get("docs-s3")!;
      const opened = await open();
      try {
        proxy.rule = () => "stall";
        const packer = new Packer(worldPackerOptions(world, opened, {
          logger: quiet,
          originalReadTimeoutMs: 1000,
          originalReadRetries: 1,
        }));
        const result: PackRunResult = await bounded(packer.runOnce(), HANG_BOUND_MS, "pack run");
        assertEquals(result.failedRows, 0);
        assert(result.errors.length > 0, "the shards with rows must report the outage");
        for (const e of result.errors) assertMatch(e.error, /timed out/);
        const states = await parentStates(s3);
        assertEquals(states.filter((p) => p.status === "broken"), []);
        assertEquals(
          states.filter((p) => p.status === "queued").length,
          s3.fixture.eligibleIds.size,
        );
        // Once the store answers again, the next run packs everything.
        proxy.rule = () => "pass";
        const again = await bounded(packer.runOnce(), HANG_BOUND_MS, "second pack run");
        assertEquals([again.errors, again.failedRows], [[], 0]);
        assertEquals(again.files, s3.fixture.eligibleIds.size);
      } finally {
        await opened.close();
      }
    } finally {
      store.close();
      await proxy.close();
      await world.close();
    }
  },
});

Deno.test({
  name: "bad rows: files that shrink and grow while they are read are packed self-consistently",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const MiB = 1024 * 1024;
    // Rows 0 and 1 are read by the streaming path (> 1 MiB), row 2 by the fast path.
    const sizes = [3 * MiB, 2 * MiB, 512 * 1024];
    const world = await createPackWorld({
      fsRows: 3,
      shardBits: 1,
      allEligible: true,
      size: (i) => sizes[i],
    });
    let stop = false;
    const churn: Promise<void>[] = [];
    try {
      await world.markAll();
      const fs = world.sources.get("docs-fs")!;
      const paths = fs.fixture.rows.map((r) => `${fs.fixture.originalsRoot}/${r.location}`);
      // Each file is cut short and grown again, over and over, while the packer reads it.
      for (const [i, path] of paths.entries()) {
        churn.push((async () => {
          const chunk = new Uint8Array(64 * 1024).fill(i + 1);
          while (!stop) {
            await Deno.truncate(path, sizes[i] / 4);
            const file = await Deno.open(path, { append: true });
            for (let n = 0; n < 24 && !stop; n++) await file.write(chunk);
            file.close();
            await new Promise((r) => setTimeout(r, 0));
          }
        })());
      }
      const opened = await world.openSources();
      try {
        const result = await bounded(
          new Packer(worldPackerOptions(world, opened, { logger: quiet, bigFileThreshold: MiB }))
            .runOnce(),
          HANG_BOUND_MS,
          "pack run",
        );
        stop = true;
        await Promise.all(churn);
        assertEquals(result.errors, []);
        assertEquals(result.files, 3);
        const containers = await listContainers(world.meta.db, { states: VISIBLE_STATES });
        let checked = 0;
        for (const c of containers) {
          const reader = await DesReader.open(new StoreRangeSource(world.archive, c.key), {
            bigFiles: world.archive,
          });
          for (const entry of reader.entries()) {
            // readFile verifies the CRC-32C of exactly the bytes served.
            const bytes = await reader.readFile(entry);
            assertEquals(bytes.byteLength, entry.size);
            checked++;
          }
        }
        assertEquals(checked, 3);
      } finally {
        await opened.close();
      }
    } finally {
      stop = true;
      await Promise.all(churn).catch(() => {});
      await world.close();
    }
  },
});

Deno.test({
  name: "bad rows: with a directory, a FIFO, a symlink loop and a NULL location among 1,000 " +
    "good rows, one `pack --once` packs the 1,000 and dead-letters the 4, in bounded time",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 1004, allEligible: true, size: () => 200 });
    try {
      await world.markAll();
      const fs = world.sources.get("docs-fs")!;
      const expected = await plantBadFsRows(fs, ["directory", "fifo", "loop", "null"]);
      const started = performance.now();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "--once", "--sources", world.sourcesPath],
        env: {
          ...world.env,
          DES_PACKER_WORKDIR: `${world.dir}/work`,
          DES_ORIGINAL_READ_TIMEOUT: "5s",
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), HANG_BOUND_MS);
      const out = await child.output();
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.signal, null, `pack --once hung; stderr:\n${stderr.slice(-2000)}`);
      assertEquals(out.code, 0, stdout + stderr.slice(-2000));
      assertMatch(stdout, /4 rows failed/);
      assertMatch(stdout, /0 shard errors/);
      await checkOutcome(world, fs, expected);
      const states = await parentStates(fs);
      assertEquals(states.filter((p) => p.status === "archived").length, 1000);
      console.log(`pack --once: 1,000 packed, 4 dead-lettered in ${seconds.toFixed(1)} s`);
    } finally {
      await world.close();
    }
  },
});
