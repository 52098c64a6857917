/**
 * One contract for every ObjectStore: the same cases run against the
 * filesystem store, the in-memory store and the S3 store on a real Ceph RGW.
 */

import { Buffer } from "node:buffer";
import { join } from "node:path";
import {
  DesConfigError,
  DesConflictError,
  DesError,
  DesFormatError,
  DesInputError,
  DesNotFoundError,
  DesUnavailableError,
} from "../core/errors.ts";
import {
  DesRangeNotSatisfiableError,
  FsObjectStore,
  MemoryObjectStore,
  type ObjectStore,
  parseLocation,
  type RangeRequest,
  readAll,
  RequestCounter,
  S3ObjectStore,
  StoreRangeSource,
} from "../store/mod.ts";
import { TEMP_PREFIX } from "../store/keys.ts";
import { pendingUploads, removeTestS3Store, s3TestIgnore, testS3Store } from "./_helpers/s3.ts";

const MiB = 1024 * 1024;

/** What a case gets: a fresh store, its request counter, and backend-specific probes. */
interface Ctx {
  store: ObjectStore;
  counter: RequestCounter;
  kind: "fs" | "memory" | "s3";
  /** Traces a write may leave behind: temp files, pending multipart uploads. */
  leftovers(): Promise<string[]>;
}

interface Backend {
  kind: Ctx["kind"];
  ignore: boolean;
  open(counter: RequestCounter): Promise<{ ctx: Ctx; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    kind: "fs",
    ignore: false,
    async open(counter) {
      const root = await Deno.makeTempDir({ prefix: "des-store-contract-" });
      const store = new FsObjectStore(join(root, "objects"), { onRequest: counter.hook });
      const leftovers = async () => (await walk(root)).filter((p) => p.includes(TEMP_PREFIX));
      return {
        ctx: { store, counter, kind: "fs", leftovers },
        close: () => Deno.remove(root, { recursive: true }),
      };
    },
  },
  {
    kind: "memory",
    ignore: false,
    open(counter) {
      const store = new MemoryObjectStore({ onRequest: counter.hook });
      const ctx: Ctx = { store, counter, kind: "memory", leftovers: () => Promise.resolve([]) };
      return Promise.resolve({ ctx, close: () => Promise.resolve() });
    },
  },
  {
    kind: "s3",
    ignore: s3TestIgnore(),
    async open(counter) {
      const store = await testS3Store("des-contract", { onRequest: counter.hook });
      const leftovers = async () =>
        (await pendingUploads(store)).map((u) => `multipart upload of ${u.Key}`);
      return {
        ctx: { store, counter, kind: "s3", leftovers },
        close: () => removeTestS3Store(store),
      };
    },
  },
];

interface Case {
  name: string;
  only?: Ctx["kind"][];
  fn(ctx: Ctx): Promise<void>;
}

const cases: Case[] = [
  {
    name: "put, head and get round-trip with a stable ETag",
    async fn({ store }) {
      const data = randomBytes(1000, 1);
      const put = await store.put("a/b.bin", data, { contentType: "application/octet-stream" });
      assertEq(put.size, 1000, "put size");
      assert(put.etag.length > 0, "put returns an ETag");
      const head = await store.head("a/b.bin");
      assertEq(head?.size, 1000, "head size");
      assertEq(head?.etag, put.etag, "head ETag = put ETag");
      assertEq(head?.key, "a/b.bin", "head key");
      const got = await store.get("a/b.bin");
      assertEq(got.start, 0, "start");
      assertEq(got.length, 1000, "length");
      assertEq(got.info.etag, put.etag, "get ETag");
      assertBytes(await readAll(got.body), data, "body");
    },
  },
  {
    name: "ranges: bytes=0-0, offset/length, open-ended, suffix, clamping",
    async fn({ store }) {
      const data = randomBytes(1000, 2);
      await store.put("r", data);
      const read = async (range: RangeRequest) => {
        const got = await store.get("r", { range });
        const bytes = await readAll(got.body);
        assertEq(got.info.size, 1000, "total size reported with a range");
        assertEq(bytes.byteLength, got.length, "length = bytes received");
        return { start: got.start, bytes };
      };
      let r = await read({ offset: 0, length: 1 });
      assertEq(r.start, 0, "bytes=0-0 start");
      assertBytes(r.bytes, data.subarray(0, 1), "bytes=0-0");
      r = await read({ offset: 10, length: 90 });
      assertEq(r.start, 10, "offset start");
      assertBytes(r.bytes, data.subarray(10, 100), "bytes=10-99");
      r = await read({ offset: 990 });
      assertBytes(r.bytes, data.subarray(990), "open-ended bytes=990-");
      r = await read({ suffix: 64 });
      assertEq(r.start, 936, "suffix start");
      assertBytes(r.bytes, data.subarray(936), "suffix bytes=-64");
      r = await read({ suffix: 5000 });
      assertEq(r.start, 0, "long suffix starts at 0");
      assertBytes(r.bytes, data, "suffix longer than the object");
      r = await read({ offset: 995, length: 100 });
      assertBytes(r.bytes, data.subarray(995), "range past the end is cut");
      await assertRejects(
        () => store.get("r", { range: { offset: 1000 } }),
        DesRangeNotSatisfiableError,
      );
      await assertRejects(() => store.get("r", { range: { offset: -1 } }), DesInputError);
      await assertRejects(() => store.get("r", { range: { offset: 0, length: 0 } }), DesInputError);
      await assertRejects(() => store.get("r", { range: { suffix: 0 } }), DesInputError);
    },
  },
  {
    name: "an empty object reads as empty and has no satisfiable range",
    async fn({ store }) {
      const put = await store.put("empty", new Uint8Array(0));
      assertEq(put.size, 0, "put size");
      assertEq((await store.head("empty"))?.size, 0, "head size");
      const got = await store.get("empty");
      assertEq((await readAll(got.body)).byteLength, 0, "empty body");
      await assertRejects(
        () => store.get("empty", { range: { suffix: 8 } }),
        DesRangeNotSatisfiableError,
      );
      await assertRejects(
        () => store.get("empty", { range: { offset: 0, length: 1 } }),
        DesRangeNotSatisfiableError,
      );
    },
  },
  {
    name: "missing objects: head is null, get is not found",
    async fn({ store }) {
      assertEq(await store.head("missing/x"), null, "head");
      const missing = [
        {},
        { range: { offset: 0, length: 1 } },
        { range: { suffix: 10 } },
        { ifMatch: "abc" },
      ];
      for (const options of missing) {
        await assertRejects(() => store.get("missing/x", options), DesNotFoundError);
      }
    },
  },
  {
    name: "If-Match conflicts after an overwrite; If-None-Match protects an existing key",
    async fn({ store }) {
      const v1 = await store.put("c", randomBytes(100, 3));
      const ok = await store.get("c", { ifMatch: v1.etag, range: { offset: 0, length: 10 } });
      assertEq((await readAll(ok.body)).byteLength, 10, "matching ETag reads");
      const v2Data = randomBytes(100, 4);
      const v2 = await store.put("c", v2Data);
      assert(v2.etag !== v1.etag, "an overwrite changes the ETag");
      await assertRejects(() => store.get("c", { ifMatch: v1.etag }), DesConflictError);
      await assertRejects(
        () => store.get("c", { ifMatch: v1.etag, range: { suffix: 10 } }),
        DesConflictError,
      );
      const current = await store.get("c", { ifMatch: v2.etag });
      assertBytes(await readAll(current.body), v2Data, "current version");
      await assertRejects(
        () => store.put("c", randomBytes(5, 5), { ifNoneMatch: true }),
        DesConflictError,
      );
      assertEq((await store.head("c"))?.etag, v2.etag, "the refused put changed nothing");
      const fresh = await store.put("c-new", randomBytes(5, 6), { ifNoneMatch: true });
      assertEq(fresh.size, 5, "If-None-Match on a new key stores it");
    },
  },
  {
    name: "createWriter streams ~20 MiB in parts, read back byte-identical with the real ETag",
    async fn({ store, counter, kind }) {
      const data = randomBytes(20 * MiB + 12_345, 7);
      counter.reset();
      const writer = await store.createWriter("big/stream.bin");
      for (const { start, length } of chunkSizes(data.byteLength)) {
        await writer.write(data.subarray(start, start + length));
      }
      const info = await writer.close();
      assertEq(info.size, data.byteLength, "closed size");
      const head = await store.head("big/stream.bin");
      assertEq(head?.etag, info.etag, "close() returns the stored ETag");
      assert(info.etag.length > 0, "non-empty ETag");
      if (kind === "s3") {
        assertEq(counter.count("multipart-part"), 3, "8 MiB parts of 20 MiB");
        assert(/-3$/.test(info.etag), `multipart ETag ends in -3: ${info.etag}`);
      }
      const got = await store.get("big/stream.bin");
      assertBytes(await readAll(got.body), data, "read back");
      const tail = await store.get("big/stream.bin", {
        range: { offset: 8 * MiB - 5, length: 10 },
      });
      assertBytes(
        await readAll(tail.body),
        data.subarray(8 * MiB - 5, 8 * MiB + 5),
        "across a part",
      );
    },
  },
  {
    name: "put: a large buffer goes multipart, a small stream in one request",
    async fn({ store, counter, kind }) {
      const large = randomBytes(9 * MiB, 8);
      counter.reset();
      const info = await store.put("big/buffer.bin", large);
      assertEq(info.etag, (await store.head("big/buffer.bin"))?.etag, "put ETag = head ETag");
      if (kind === "s3") assertEq(counter.count("multipart-part"), 2, "9 MiB in 8 MiB parts");
      assertBytes(await readAll((await store.get("big/buffer.bin")).body), large, "large body");

      const small = randomBytes(3000, 9);
      counter.reset();
      await store.put(
        "small/stream.bin",
        ReadableStream.from([small.subarray(0, 1000), small.subarray(1000)]),
      );
      assertEq(counter.count(), 1, "one request for a small stream");
      assertEq(counter.count("put"), 1, "a plain put");
      assertBytes(await readAll((await store.get("small/stream.bin")).body), small, "small body");
    },
  },
  {
    name: "abort leaves nothing behind, also after a part was uploaded or a stream failed",
    async fn({ store, leftovers }) {
      const writer = await store.createWriter("gone/aborted.bin");
      await writer.write(randomBytes(9 * MiB, 10));
      await writer.abort();
      await writer.abort();
      await assertRejects(() => writer.write(new Uint8Array(1)), DesInputError);
      assertEq(await store.head("gone/aborted.bin"), null, "nothing visible after abort");

      let sent = 0;
      const failing = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 9 * MiB) return controller.error(new Error("source failed"));
          sent += MiB;
          controller.enqueue(randomBytes(MiB, sent));
        },
      });
      await assertRejects(() => store.put("gone/failed.bin", failing), Error);
      assertEq(await store.head("gone/failed.bin"), null, "nothing visible after a failed put");
      assertEq((await Array.fromAsync(store.list("gone/"))).length, 0, "nothing listed");
      assertEq(await leftovers(), [], "no temp files or pending uploads");
    },
  },
  {
    name: "list: prefixes, key order, sizes and ETags",
    async fn({ store }) {
      const keys = ["l/b/d", "l/a", "l/bb", "l/b/c", "l/b-x", "m/x", "la"];
      const etags = new Map<string, string>();
      for (const [i, key] of keys.entries()) {
        etags.set(key, (await store.put(key, randomBytes(i + 1, 20 + i))).etag);
      }
      const listed = async (prefix: string) => await Array.fromAsync(store.list(prefix));
      const all = await listed("l/");
      assertEq(all.map((o) => o.key), ["l/a", "l/b-x", "l/b/c", "l/b/d", "l/bb"], "l/");
      for (const o of all) {
        assertEq(o.size, keys.indexOf(o.key) + 1, `size of ${o.key}`);
        assertEq(o.etag, etags.get(o.key), `ETag of ${o.key}`);
      }
      assertEq((await listed("l/b")).map((o) => o.key), ["l/b-x", "l/b/c", "l/b/d", "l/bb"], "l/b");
      assertEq((await listed("l/b/")).map((o) => o.key), ["l/b/c", "l/b/d"], "l/b/");
      assertEq((await listed("l")).map((o) => o.key).at(-1), "la", "prefix l without a slash");
      assertEq(await listed("nothing/"), [], "unknown prefix");
    },
  },
  {
    name: "list pages past 1000 keys",
    only: ["s3"],
    async fn({ store, counter }) {
      const keys = Array.from({ length: 1003 }, (_, i) => `p/${String(i).padStart(5, "0")}`);
      await pool(keys, 16, (key) => store.put(key, new TextEncoder().encode(key)));
      counter.reset();
      const listed = (await Array.fromAsync(store.list("p/"))).map((o) => o.key);
      assertEq(listed, keys, "all keys, in order");
      assertEq(counter.count("list"), 2, "two pages");
    },
  },
  {
    name: "delete is idempotent",
    async fn({ store }) {
      await store.put("d/x", randomBytes(10, 30));
      await store.delete("d/x");
      assertEq(await store.head("d/x"), null, "deleted");
      await store.delete("d/x");
      await store.delete("d/never-existed");
    },
  },
  {
    name: "request hook: a ranged get, a head, a small put are one request each",
    async fn({ store, counter }) {
      await store.put("h", randomBytes(100, 31));
      counter.reset();
      const got = await store.get("h", { range: { offset: 5, length: 10 } });
      await readAll(got.body);
      assertEq(counter.count(), 1, "one request for a ranged get");
      assertEq(counter.requests[0].op, "get", "op");
      assertEq(counter.requests[0].ranged, true, "ranged");
      assertEq(counter.requests[0].key, "h", "key");
      counter.reset();
      await store.head("h");
      assertEq(counter.count(), 1, "one request for head");
      counter.reset();
      await store.put("h2", randomBytes(10, 32));
      assertEq(counter.count("put"), 1, "one request for a small put");
      assertEq(counter.count(), 1, "and nothing else");
    },
  },
  {
    name: "invalid keys are rejected before any request",
    async fn({ store, counter }) {
      counter.reset();
      for (
        const key of [
          "",
          "/abs",
          "a//b",
          "../x",
          "a/../b",
          "a/./b",
          "a\\b",
          "a/",
          `x/${TEMP_PREFIX}1`,
        ]
      ) {
        await assertRejects(() => store.head(key), DesInputError);
        await assertRejects(() => store.get(key), DesInputError);
        await assertRejects(() => store.put(key, new Uint8Array(1)), DesInputError);
        await assertRejects(() => store.createWriter(key), DesInputError);
        await assertRejects(() => store.delete(key), DesInputError);
      }
      assertEq(counter.count(), 0, "no requests made");
    },
  },
  {
    name: "StoreRangeSource: one request per read, size from the suffix read, pinned ETag",
    async fn({ store, counter }) {
      const data = randomBytes(5000, 40);
      const put = await store.put("src/c.des", data);
      const source = new StoreRangeSource(store, "src/c.des", { etag: put.etag });
      counter.reset();
      const tail = await source.readSuffix(100);
      assertEq(tail.size, 5000, "size from the suffix read");
      assertBytes(tail.bytes, data.subarray(4900), "suffix bytes");
      const all = await source.readSuffix(9000);
      assertEq(all.bytes.byteLength, 5000, "suffix longer than the object");
      assertBytes(await source.read(0, 1), data.subarray(0, 1), "first byte");
      assertBytes(await source.read(1234, 100), data.subarray(1234, 1334), "read");
      assertBytes(await readAll(await source.stream(10, 20)), data.subarray(10, 30), "stream");
      assertEq(counter.count("get"), 5, "five reads, five gets");
      assertEq(counter.count(), 5, "and nothing else");
      await assertRejects(() => source.read(4990, 20), DesFormatError);
      await assertRejects(() => source.read(6000, 1), DesFormatError);
      const sized = new StoreRangeSource(store, "src/c.des", { size: 5000 });
      counter.reset();
      await assertRejects(() => sized.read(4990, 20), DesFormatError);
      assertEq(counter.count(), 0, "a read past a known size makes no request");
      await store.put("src/c.des", randomBytes(5000, 41));
      await assertRejects(() => source.read(0, 10), DesConflictError);
      await assertRejects(() => source.readSuffix(10), DesConflictError);
    },
  },
];

for (const backend of backends) {
  Deno.test({ name: `store contract: ${backend.kind}`, ignore: backend.ignore }, async (t) => {
    const counter = new RequestCounter();
    const { ctx, close } = await backend.open(counter);
    try {
      for (const c of cases) {
        if (c.only && !c.only.includes(backend.kind)) continue;
        await t.step(c.name, () => c.fn(ctx));
      }
    } finally {
      await close();
    }
  });
}

Deno.test("store: an S3 store refuses part sizes S3 would reject", () => {
  const options = { bucket: "b", region: "us-east-1", accessKeyId: "a", secretAccessKey: "s" };
  assertThrows(() => new S3ObjectStore({ ...options, partSize: 1024 }), "config.invalid");
});

Deno.test("store: an unreachable S3 endpoint is DesUnavailableError naming it", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoint = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const store = new S3ObjectStore({
    bucket: "b",
    endpoint,
    region: "us-east-1",
    accessKeyId: "a",
    secretAccessKey: "s",
    maxAttempts: 1,
  });
  try {
    for (const attempt of [() => store.head("k"), () => store.get("k", { range: { suffix: 1 } })]) {
      try {
        await attempt();
        throw new Error("expected a failure");
      } catch (error) {
        assert(error instanceof DesUnavailableError, `DesUnavailableError, got ${error}`);
        assertEq(error.context.endpoint, endpoint, "endpoint in the context");
        assert(error.message.includes(endpoint), "endpoint in the message");
      }
    }
  } finally {
    store.close();
  }
});

Deno.test("store: S3ObjectStore.fromEnv names a missing variable", () => {
  const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });
  try {
    S3ObjectStore.fromEnv("b", env({ DES_S3_ACCESS_KEY_ID: "a" }));
    throw new Error("expected DesConfigError");
  } catch (error) {
    assert(error instanceof DesConfigError, `DesConfigError, got ${error}`);
    assert(error.message.includes("DES_S3_SECRET_ACCESS_KEY"), error.message);
  }
  const store = S3ObjectStore.fromEnv(
    "b",
    env({
      DES_S3_ACCESS_KEY_ID: "a",
      DES_S3_SECRET_ACCESS_KEY: "s",
      DES_S3_ENDPOINT: "http://x:1",
    }),
  );
  assertEq([store.url, store.endpoint], ["s3://b", "http://x:1"], "configured from env");
  store.close();
});

Deno.test("store: parseLocation maps s3 URLs, paths and file URLs", () => {
  const env = {
    get: (name: string) => ({ DES_S3_ACCESS_KEY_ID: "a", DES_S3_SECRET_ACCESS_KEY: "s" })[name],
  };
  const s3 = parseLocation("s3://bucket/dir/c.des", env);
  assert(s3.store instanceof S3ObjectStore, "an S3 store");
  assertEq([s3.store.url, s3.key], ["s3://bucket", "dir/c.des"], "bucket and key");
  s3.store.close();
  for (const location of ["/tmp/x/c.des", "file:///tmp/x/c.des"]) {
    const fs = parseLocation(location, env);
    assert(fs.store instanceof FsObjectStore, "a filesystem store");
    assertEq([fs.store.root, fs.key], ["/tmp/x", "c.des"], location);
  }
  for (const bad of ["", "s3://bucket", "s3://bucket/", "s3:///key", "http://h/x", "/tmp/x/"]) {
    assertThrows(() => parseLocation(bad, env), "bad-input");
  }
});

// ---- test utilities ----------------------------------------------------------------------------------

/** Deterministic pseudo-random bytes (xorshift32), fast enough for tens of MiB. */
function randomBytes(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, length);
}

interface Chunk {
  start: number;
  length: number;
}

/** Uneven chunk sizes (odd, sub-part and multi-part) covering `total` bytes. */
function chunkSizes(total: number): Chunk[] {
  const pattern = [1, 65_536, 3 * MiB + 7, 1_000_003, 10 * MiB, 17];
  const out: Chunk[] = [];
  for (let at = 0, i = 0; at < total; i++) {
    const length = Math.min(pattern[i % pattern.length], total - at);
    out.push({ start: at, length });
    at += length;
  }
  return out;
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory) out.push(...await walk(path));
  }
  return out;
}

function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${what}`);
}

function assertEq(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.byteLength !== expected.byteLength) {
    throw new Error(`${what}: expected ${expected.byteLength} bytes, got ${actual.byteLength}`);
  }
  if (!Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) {
    throw new Error(`${what}: bytes differ`);
  }
}

async function assertRejects(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => Error,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof type) return;
    throw new Error(`expected ${type.name}, got ${error}`, { cause: error });
  }
  throw new Error(`expected ${type.name}, but nothing was thrown`);
}

function assertThrows(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof DesError && error.code === code) return;
    throw new Error(`expected ${code}, got ${error}`, { cause: error });
  }
  throw new Error(`expected ${code}, but nothing was thrown`);
}
