/**
 * A first packer run against an S3 endpoint whose archive bucket does not
 * exist yet: the packer creates it through the store seam (the store it
 * holds is a wrapper, so no `instanceof` test may decide), and a user that
 * may not create buckets gets exit 2 naming the bucket, with nothing written.
 */

import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { S3FetchGetStore } from "../retriever/s3_fetch_store.ts";
import { FsObjectStore } from "../store/fs.ts";
import { MemoryObjectStore } from "../store/memory.ts";
import { S3ObjectStore } from "../store/s3.ts";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { createPackWorld, parentStates } from "./_helpers/pack_world.ts";
import {
  removeTestS3Store,
  s3TestIgnore,
  servicesRequired,
  uniqueBucketName,
  withTestS3Env,
} from "./_helpers/s3.ts";

const MAIN = new URL("../pack/main.ts", import.meta.url).pathname;

function storeOf(bucket: string, env: Record<string, string> = withTestS3Env()): S3ObjectStore {
  return S3ObjectStore.fromEnv(bucket, new Map(Object.entries(env)));
}

async function bucketExists(store: S3ObjectStore): Promise<boolean> {
  try {
    await store.client.send(new HeadBucketCommand({ Bucket: store.bucket }));
    return true;
  } catch {
    return false;
  }
}

async function pack(
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", MAIN, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("store seam: every store and wrapper has ensureBucket", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fs = new FsObjectStore(`${dir}/a/b`);
    await fs.ensureBucket();
    await fs.ensureBucket();
    assert((await Deno.stat(`${dir}/a/b`)).isDirectory);
    await new MemoryObjectStore().ensureBucket();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "store seam: the fetch-GET wrapper creates its S3 bucket",
  ignore: s3TestIgnore(),
  async fn() {
    const env = withTestS3Env();
    const inner = storeOf(uniqueBucketName("seam-wrapper"));
    try {
      const wrapper = new S3FetchGetStore(inner, {
        endpoint: env.DES_S3_ENDPOINT,
        region: env.DES_S3_REGION,
        accessKeyId: env.DES_S3_ACCESS_KEY_ID,
        secretAccessKey: env.DES_S3_SECRET_ACCESS_KEY,
        bucket: inner.bucket,
      });
      assert(!await bucketExists(inner));
      await wrapper.ensureBucket();
      assert(await bucketExists(inner));
    } finally {
      await removeTestS3Store(inner).catch(() => inner.close());
    }
  },
});

Deno.test({
  name: "pack --range 0-255 --once against a bucket that does not exist creates it and packs",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 60, shardBits: 8 });
    const bucket = uniqueBucketName("fresh-archive");
    const fresh = storeOf(bucket);
    try {
      const marked = await world.markAll();
      assert(marked > 0);
      assert(!await bucketExists(fresh));
      const run = await pack(
        { ...world.env, DES_ARCHIVE_BUCKET: bucket, DES_PACKER_WORKDIR: `${world.dir}/work` },
        ["--range", "0-255", "--once", "--sources", world.sourcesPath],
      );
      assertEquals(run.code, 0, run.stderr);
      assert(await bucketExists(fresh));
      const source = world.sources.get("docs-fs")!;
      const packed = (await parentStates(source)).filter((p) =>
        p.status === source.fixture.source.statuses.packed
      );
      assertEquals(packed.length, marked);
      const keys = (await Array.fromAsync(fresh.list(""))).map((o) => o.key);
      assert(keys.some((k) => k.endsWith(".des")), `no container in ${bucket}: ${keys}`);
    } finally {
      await removeTestS3Store(fresh).catch(() => fresh.close());
      await world.close();
    }
  },
});

/** `radosgw-admin` of the test cluster, when its directory is known. */
function rgwAdmin(): ((...args: string[]) => Promise<string>) | undefined {
  const dir = Deno.env.get("RGW_DATA_DIR");
  if (!dir) return undefined;
  return async (...args: string[]) => {
    const out = await new Deno.Command("radosgw-admin", {
      args: ["-c", `${dir}/ceph.conf`, "-n", "client.admin", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(
        `radosgw-admin ${args[0]} ${args[1]}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return text;
  };
}

Deno.test({
  name: "pack exits 2 naming the bucket when the S3 user may not create it",
  ignore: s3TestIgnore() || (!Deno.env.get("RGW_DATA_DIR") && !servicesRequired()),
  sanitizeResources: false,
  async fn() {
    const admin = rgwAdmin();
    assert(admin, "RGW_DATA_DIR is needed to create an S3 user without bucket rights");
    const uid = uniqueBucketName("des-nobucket");
    const access = `NB${crypto.randomUUID().replaceAll("-", "").slice(0, 18).toUpperCase()}`;
    const secret = crypto.randomUUID().replaceAll("-", "");
    await admin(
      "user",
      "create",
      "--uid",
      uid,
      "--display-name",
      "DES test without bucket creation",
      "--access-key",
      access,
      "--secret",
      secret,
      "--max-buckets=-1",
    );
    const world = await createPackWorld({ fsRows: 10, shardBits: 8 });
    const bucket = uniqueBucketName("refused-archive");
    try {
      await world.markAll();
      const run = await pack(
        {
          ...world.env,
          DES_S3_ACCESS_KEY_ID: access,
          DES_S3_SECRET_ACCESS_KEY: secret,
          DES_ARCHIVE_BUCKET: bucket,
          DES_PACKER_WORKDIR: `${world.dir}/work`,
        },
        ["--range", "0-255", "--once", "--sources", world.sourcesPath],
      );
      assertEquals(run.code, 2, run.stderr);
      assertMatch(run.stderr, new RegExp(`${bucket}.*may not create`));
      assert(!await bucketExists(storeOf(bucket)));
      const [{ n }] = await world.meta.db.query<{ n: number }>(
        "select count(*)::int as n from des_containers",
      );
      assertEquals(n, 0);
    } finally {
      await world.close();
      await admin("user", "rm", "--uid", uid, "--purge-data").catch(() => "");
    }
  },
});
