import { assertEquals, assertMatch, assertThrows } from "./_helpers/assert.ts";
import {
  indexCacheOf,
  loadConfig,
  parseByteSize,
  parseDuration,
  SETTINGS,
} from "../core/config.ts";
import { DesConfigError } from "../core/errors.ts";

const env = (pairs: Record<string, string>) => new Map(Object.entries(pairs));

Deno.test("config: defaults load with an empty environment", () => {
  const c = loadConfig(env({}));
  assertEquals(c.shardBits, 8);
  assertEquals(c.nodeId, 0);
  assertEquals(c.bigFileThreshold, 16 * 1024 * 1024);
  assertEquals(c.deleteSources, false);
  assertEquals(c.databaseUrl, "embedded:.des/db");
});

Deno.test("config: values are parsed and typed", () => {
  const c = loadConfig(env({
    DES_SHARD_BITS: "12",
    DES_BIG_FILE_THRESHOLD: "512KiB",
    DES_DELETE_SOURCES: "yes",
    DES_S3_ENDPOINT: "http://127.0.0.1:7480/",
    DES_S3_ACCESS_KEY_ID: "a",
    DES_S3_SECRET_ACCESS_KEY: "b",
  }));
  assertEquals(c.shardBits, 12);
  assertEquals(c.bigFileThreshold, 512 * 1024);
  assertEquals(c.deleteSources, true);
  assertEquals(c.s3Endpoint, "http://127.0.0.1:7480");
});

Deno.test("config: every problem is reported at once, naming the variable", () => {
  const e = assertThrows(
    () =>
      loadConfig(env({
        DES_SHARD_BITS: "17",
        DES_NODE_ID: "x",
        DES_DATABASE_URL: "mysql://h/db",
        DES_DELETE_SOURCES: "maybe",
      })),
    DesConfigError,
  );
  for (const name of ["DES_SHARD_BITS", "DES_NODE_ID", "DES_DATABASE_URL", "DES_DELETE_SOURCES"]) {
    assertMatch(e.message, new RegExp(name));
  }
  assertEquals((e.context.problems as string[]).length, 4);
});

Deno.test("config: S3 endpoint without keys is refused", () => {
  const e = assertThrows(
    () => loadConfig(env({ DES_S3_ENDPOINT: "http://127.0.0.1:7480" })),
    DesConfigError,
  );
  assertMatch(e.message, /DES_S3_ACCESS_KEY_ID is required/);
  assertMatch(e.message, /DES_S3_SECRET_ACCESS_KEY is required/);
});

Deno.test("config: byte sizes and durations", () => {
  assertEquals(parseByteSize("1048576"), 1048576);
  assertEquals(parseByteSize("1.5k"), 1536);
  assertEquals(parseByteSize("2 GiB"), 2 * 1024 ** 3);
  assertThrows(() => parseByteSize("12 parsecs"));
  assertThrows(() => parseByteSize("-1"));
  assertEquals(parseDuration("250ms"), 250);
  assertEquals(parseDuration("60"), 60_000);
  assertEquals(parseDuration("5m"), 300_000);
  assertThrows(() => parseDuration("soon"));
});

Deno.test("config: README documents every setting", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  for (const spec of Object.values(SETTINGS)) {
    assertMatch(
      readme,
      new RegExp(`\\|\\s*\`${spec.env}\`\\s*\\|`),
      `${spec.env} missing from README`,
    );
  }
});

Deno.test("config: byte cache sizes are byte sizes", () => {
  const c = loadConfig(env({ DES_CACHE_MEMORY_BYTES: "16MiB", DES_CACHE_DISK_BYTES: "2GiB" }));
  assertEquals(c.cacheMemoryBytes, 16 * 1024 * 1024);
  assertEquals(c.cacheDiskBytes, 2 * 1024 ** 3);
  assertEquals(loadConfig(env({})).cacheDiskBytes, 0);
  const e = assertThrows(() => loadConfig(env({ DES_CACHE_MEMORY_BYTES: "lots" })), DesConfigError);
  assertMatch(e.message, /DES_CACHE_MEMORY_BYTES/);
});

Deno.test("config: index cache limits are settings", () => {
  const config = loadConfig(
    new Map([
      ["DES_RETRIEVER_CACHE_BYTES", "32MiB"],
      ["DES_RETRIEVER_MAX_READERS", "100"],
      ["DES_KV_MAX_BYTES", "0"],
    ]),
  );
  assertEquals(indexCacheOf(config), {
    maxCacheBytes: 32 * 1024 ** 2,
    maxReaders: 100,
    kvMaxBytes: 0,
  });
  assertEquals(indexCacheOf(loadConfig(new Map())), {
    maxCacheBytes: 256 * 1024 ** 2,
    maxReaders: 4096,
    kvMaxBytes: 1024 ** 3,
  });
  assertThrows(() => loadConfig(new Map([["DES_RETRIEVER_MAX_READERS", "0"]])));
});
