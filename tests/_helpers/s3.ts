/**
 * Test access to the S3 server given by `DES_TEST_S3_*` (a Ceph RGW started
 * by `scripts/rgw-up.sh`, or by `deno task test` itself).
 *
 * Without those variables S3 tests are registered with `ignore: true`,
 * unless `DES_TEST_REQUIRE_SERVICES=1`: then they run and fail with a
 * message saying how to provide the server.
 *
 * @module
 */

import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
} from "@aws-sdk/client-s3";
import { DesConfigError } from "../../core/errors.ts";
import { S3ObjectStore, type S3ObjectStoreOptions } from "../../store/s3.ts";

const VARS = {
  endpoint: "DES_TEST_S3_ENDPOINT",
  accessKeyId: "DES_TEST_S3_ACCESS_KEY_ID",
  secretAccessKey: "DES_TEST_S3_SECRET_ACCESS_KEY",
  region: "DES_TEST_S3_REGION",
} as const;

/** Whether the test S3 server is configured (region may default). */
export function s3Available(): boolean {
  return [VARS.endpoint, VARS.accessKeyId, VARS.secretAccessKey].every((v) => !!Deno.env.get(v));
}

/** Whether missing services must fail tests instead of skipping them. */
export function servicesRequired(): boolean {
  return Deno.env.get("DES_TEST_REQUIRE_SERVICES") === "1";
}

/** The `ignore` value for an S3 test: skip only when S3 is absent and not required. */
export function s3TestIgnore(): boolean {
  return !s3Available() && !servicesRequired();
}

function settings(): {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
} {
  if (!s3Available()) {
    throw new DesConfigError(
      `S3 tests need ${VARS.endpoint}, ${VARS.accessKeyId} and ${VARS.secretAccessKey}: ` +
        "run them with `deno task test` (starts a Ceph RGW), or start one with " +
        "`scripts/rgw-up.sh DIR` and `set -a; . DIR/env; set +a`",
      { required: Object.values(VARS) },
    );
  }
  const env = (name: string) => Deno.env.get(name) ?? "";
  return {
    endpoint: env(VARS.endpoint),
    accessKeyId: env(VARS.accessKeyId),
    secretAccessKey: env(VARS.secretAccessKey),
    region: env(VARS.region) || "us-east-1",
  };
}

/** A fresh bucket name: `PREFIX-TIME-RANDOM`, lower case, at most 63 characters. */
export function uniqueBucketName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "t";
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const suffix = `-${Date.now().toString(36)}-${random}`;
  return clean.slice(0, 63 - suffix.length) + suffix;
}

/**
 * An {@linkcode S3ObjectStore} on a new, uniquely named bucket of the test
 * server. Free it with {@linkcode removeTestS3Store}. Throws `DesConfigError`
 * when the server is not configured.
 */
export async function testS3Store(
  prefix: string,
  options: Partial<S3ObjectStoreOptions> = {},
): Promise<S3ObjectStore> {
  const store = new S3ObjectStore({ ...settings(), bucket: uniqueBucketName(prefix), ...options });
  try {
    await store.ensureBucket();
  } catch (error) {
    store.close();
    throw error;
  }
  return store;
}

/** Delete every object of a test store's bucket, the bucket itself, and close the store. */
export async function removeTestS3Store(store: S3ObjectStore): Promise<void> {
  try {
    let batch: { Key: string }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await store.client.send(
        new DeleteObjectsCommand({ Bucket: store.bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      batch = [];
    };
    for await (const item of store.list("")) {
      batch.push({ Key: item.key });
      if (batch.length === 1000) await flush();
    }
    await flush();
    for (const upload of await pendingUploads(store)) {
      await store.client.send(new AbortMultipartUploadCommand({ Bucket: store.bucket, ...upload }));
    }
    await store.client.send(new DeleteBucketCommand({ Bucket: store.bucket }));
  } finally {
    store.close();
  }
}

/** Multipart uploads of the store's bucket that were neither completed nor aborted. */
export async function pendingUploads(
  store: S3ObjectStore,
): Promise<{ Key: string; UploadId: string }[]> {
  const out = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket }));
  return (out.Uploads ?? []).map((u) => ({ Key: u.Key ?? "", UploadId: u.UploadId ?? "" }));
}

/**
 * The `DES_S3_*` variables that point a child process (a CLI run, a server)
 * at the test S3 server.
 */
export function withTestS3Env(): Record<string, string> {
  const s = settings();
  return {
    DES_S3_ENDPOINT: s.endpoint,
    DES_S3_REGION: s.region,
    DES_S3_ACCESS_KEY_ID: s.accessKeyId,
    DES_S3_SECRET_ACCESS_KEY: s.secretAccessKey,
  };
}
