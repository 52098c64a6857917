/**
 * The read path's own S3 GET against a real Ceph RGW, by `fetch` and on
 * pooled keep-alive HTTP/1.1 connections.
 */

import { assertEquals, assertRejects } from "./_helpers/assert.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store } from "./_helpers/s3.ts";
import { DesConfigError, DesConflictError, DesNotFoundError } from "../core/errors.ts";
import { Http1Pool } from "../core/http1_client.ts";
import { S3FetchGetStore, WHOLE_BODY_LIMIT } from "../retriever/s3_fetch_store.ts";
import { readAll, RequestCounter } from "../store/object_store.ts";
import { DesRangeNotSatisfiableError } from "../store/range.ts";

function settings(
  bucket: string,
  onRequest?: RequestCounter["hook"],
  secret?: string,
  pool?: Http1Pool,
) {
  return {
    pool,
    endpoint: Deno.env.get("DES_TEST_S3_ENDPOINT")!,
    region: Deno.env.get("DES_TEST_S3_REGION") || "us-east-1",
    accessKeyId: Deno.env.get("DES_TEST_S3_ACCESS_KEY_ID")!,
    secretAccessKey: secret ?? Deno.env.get("DES_TEST_S3_SECRET_ACCESS_KEY")!,
    bucket,
    onRequest,
  };
}

for (const client of ["fetch", "pool"] as const) {
  Deno.test({
    name: `S3FetchGetStore (${client}): ranged and conditional GETs as S3ObjectStore does them`,
    ignore: s3TestIgnore(),
    sanitizeResources: false,
    async fn() {
      const inner = await testS3Store("fetch-get");
      const counter = new RequestCounter();
      const pool = client === "pool" ? new Http1Pool() : undefined;
      const store = new S3FetchGetStore(
        inner,
        settings(inner.bucket, counter.hook, undefined, pool),
      );
      try {
        const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
        const key = "dir/odd name+(1)*.bin";
        const put = await inner.put(key, bytes);
        const whole = await store.get(key);
        assertEquals(await readAll(whole.body), bytes);
        assertEquals([whole.info.size, whole.info.etag, whole.start, whole.length], [
          1000,
          put.etag,
          0,
          1000,
        ]);
        const part = await store.get(key, { range: { offset: 10, length: 20 }, ifMatch: put.etag });
        assertEquals(await readAll(part.body), bytes.slice(10, 30));
        assertEquals([part.start, part.length, part.info.size], [10, 20, 1000]);
        const suffix = await store.get(key, { range: { suffix: 64 } });
        assertEquals(await readAll(suffix.body), bytes.slice(-64));
        const open = await store.get(key, { range: { offset: 990 } });
        assertEquals(await readAll(open.body), bytes.slice(990));
        assertEquals(counter.count("get"), 4);
        await assertRejects(() => store.get(key, { ifMatch: "0123" }), DesConflictError);
        await assertRejects(() => store.get("missing/key"), DesNotFoundError);
        await assertRejects(
          () => store.get(key, { range: { offset: 5000 } }),
          DesRangeNotSatisfiableError,
        );
        const bad = new S3FetchGetStore(
          inner,
          settings(inner.bucket, undefined, "wrong-secret", pool),
        );
        await assertRejects(() => bad.get(key), DesConfigError);
        assertEquals((await store.head(key))?.size, 1000);
        // Bodies up to WHOLE_BODY_LIMIT come as one chunk, larger ones stream; both whole.
        const big = Uint8Array.from({ length: WHOLE_BODY_LIMIT * 3 }, (_, i) => (i * 13) & 0xff);
        await inner.put("containers/0001/big.des", big);
        const all = await store.get("containers/0001/big.des");
        assertEquals(await readAll(all.body), big);
        const edge = await store.get("containers/0001/big.des", {
          range: { offset: 7, length: WHOLE_BODY_LIMIT },
        });
        const chunks = await Array.fromAsync(edge.body);
        assertEquals(chunks.length, 1);
        assertEquals(chunks[0], big.slice(7, 7 + WHOLE_BODY_LIMIT));
        const unread = await store.get("containers/0001/big.des", { range: { suffix: 100 } });
        await unread.body.cancel();
        await inner.put("containers/0001/empty.des", new Uint8Array(0));
        const empty = await store.get("containers/0001/empty.des");
        assertEquals((await readAll(empty.body)).byteLength, 0);
        assertEquals(counter.count("get"), 11);
      } finally {
        pool?.close();
        await removeTestS3Store(inner);
      }
    },
  });
}
