/**
 * The single-file bundles (`deno task bundle`) run as the services: the bundled retriever on a
 * real PostgreSQL catalog and Ceph RGW bucket behind the bundled gateway serves a file's bytes,
 * and the bundled retriever on the embedded database (PGlite, loading its runtime files from
 * next to the bundle) and a filesystem store serves one with no services at all. Every child
 * runs from an empty `DENO_DIR` with `--cached-only` and no config, outside the checkout, so a
 * bundle that imports anything from outside its file cannot start.
 */

import { startService } from "./_helpers/service_process.ts";
import { assertEquals, assertRejects } from "./_helpers/assert.ts";
import { commitContainer, fixtureBytes, NameSource } from "./_helpers/archive_fixture.ts";
import { createEmbeddedTestDatabase, createTestDatabase } from "./_helpers/pg.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";
import { DesConfigError } from "../core/errors.ts";
import { FsObjectStore } from "../store/fs.ts";
import { buildBundles, type BuiltFile } from "../scripts/bundle.ts";

let bundles: Promise<BuiltFile[]> | undefined;

/** The retriever and gateway bundles in `dist/`, rebuilt only when a source is newer. */
async function bundlePath(name: "retriever" | "gateway"): Promise<string> {
  bundles ??= buildBundles(["retriever", "gateway"], { reuseFresh: true, smoke: false });
  return (await bundles).find((f) => f.name === name)!.path;
}

interface Child {
  child: Deno.ChildProcess;
  port: number;
  lines: string[];
  dir: string;
}

/** Run `bundle` with `deno run` from a scratch directory; resolves with the port it logs. */
async function start(
  bundle: string,
  args: string[],
  env: Record<string, string>,
  readyMsg: string,
): Promise<Child> {
  const dir = await Deno.makeTempDir({ prefix: "des-bundle-run-" });
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--cached-only", "--no-config", "-A", "--unstable-kv", bundle, ...args],
    env: { ...env, DENO_DIR: `${dir}/deno-dir`, NO_COLOR: "1" },
    clearEnv: true,
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  try {
    return { ...await startService(command, bundle, readyMsg, 45_000), dir };
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** SIGTERM, wait for the exit, remove the scratch directory. */
async function stop(service: Child): Promise<void> {
  try {
    service.child.kill("SIGTERM");
  } catch { /* already gone */ }
  await service.child.status;
  await Deno.remove(service.dir, { recursive: true }).catch(() => {});
}

/** GET `url` and check status, body and the retriever that answered. */
async function expectFile(
  url: string,
  init: RequestInit,
  expected: { status: number; bytes: Uint8Array; retriever: string },
): Promise<void> {
  const res = await fetch(url, init);
  const body = new Uint8Array(await res.arrayBuffer());
  assertEquals(res.status, expected.status, url);
  assertEquals(res.headers.get("x-des-retriever"), expected.retriever);
  assertEquals(body, expected.bytes);
}

const baseEnv = {
  PATH: Deno.env.get("PATH") ?? "",
  HOME: Deno.env.get("HOME") ?? "/root",
  DES_SHARD_BITS: "4",
  DES_LOG_LEVEL: "info",
};

Deno.test({
  name: "bundled gateway and retriever serve a file from PostgreSQL and RGW",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [retrieverJs, gatewayJs] = [await bundlePath("retriever"), await bundlePath("gateway")];
    const pg = await createTestDatabase({ migrate: true });
    const store = await testS3Store("bundle");
    const dir = await Deno.makeTempDir({ prefix: "des-bundle-test-" });
    const services: Child[] = [];
    try {
      const names = new NameSource();
      const files = names.manyInShard(11, 2).map((name, i) => ({
        name,
        bytes: fixtureBytes(70_000 + i, 40 + i),
      }));
      await commitContainer(pg.db, store, { shard: 11, files, bucket: store.bucket });
      const env = {
        ...baseEnv,
        ...withTestS3Env(),
        DES_DATABASE_URL: pg.url,
        DES_ARCHIVE_BUCKET: store.bucket,
      };
      const retriever = await start(
        retrieverJs,
        ["--range", "0-15", "--port", "0", "--id", "bundled-retriever"],
        { ...env, DES_KV_PATH: `${dir}/retriever.kv` },
        "retriever listening",
      );
      services.push(retriever);
      await Deno.writeTextFile(
        `${dir}/routes.yaml`,
        "retrievers:\n" +
          `  - { id: bundled-retriever, url: "http://127.0.0.1:${retriever.port}", range: "0-15" }\n`,
      );
      const gateway = await start(
        gatewayJs,
        ["--routes", `${dir}/routes.yaml`, "--port", "0"],
        env,
        "gateway listening",
      );
      services.push(gateway);
      const base = `http://127.0.0.1:${gateway.port}/files`;
      for (const f of files) {
        await expectFile(`${base}/${f.name}`, {}, {
          status: 200,
          bytes: f.bytes,
          retriever: "bundled-retriever",
        });
      }
      await expectFile(`${base}/${files[1].name}`, { headers: { range: "bytes=1000-1999" } }, {
        status: 206,
        bytes: files[1].bytes.slice(1000, 2000),
        retriever: "bundled-retriever",
      });
    } finally {
      for (const s of services.reverse()) await stop(s);
      await pg.drop();
      await removeTestS3Store(store);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bundled retriever runs on the embedded database and a filesystem store",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const retrieverJs = await bundlePath("retriever");
    const embedded = await createEmbeddedTestDatabase({ migrate: true });
    const dir = await Deno.makeTempDir({ prefix: "des-bundle-embedded-" });
    let retriever: Child | undefined;
    try {
      const store = new FsObjectStore(`${dir}/store/archive`);
      const file = { name: new NameSource().inShard(2), bytes: fixtureBytes(5_000, 9) };
      await commitContainer(embedded.db, store, { shard: 2, files: [file], bucket: "archive" });
      await embedded.db.close(); // the engine's directory lock now passes to the child
      retriever = await start(
        retrieverJs,
        ["--range", "0-15", "--port", "0", "--id", "embedded-retriever", "--no-register"],
        {
          ...baseEnv,
          DES_DATABASE_URL: embedded.url,
          DES_STORE_ROOT: `${dir}/store`,
          DES_ARCHIVE_BUCKET: "archive",
          DES_KV_PATH: `${dir}/retriever.kv`,
        },
        "retriever listening",
      );
      await expectFile(`http://127.0.0.1:${retriever.port}/files/${file.name}`, {}, {
        status: 200,
        bytes: file.bytes,
        retriever: "embedded-retriever",
      });
    } finally {
      if (retriever) await stop(retriever);
      await embedded.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("bundle refuses an unknown entry point", async () => {
  await assertRejects(
    () => buildBundles(["gateway", "no-such-entry"], { outDir: "/nonexistent" }),
    DesConfigError,
    "no-such-entry",
  );
});
