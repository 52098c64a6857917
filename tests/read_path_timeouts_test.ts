/**
 * Every outbound wait of the read path is bounded: an S3 endpoint that
 * accepts and never answers, an S3 body that stalls after its headers, a
 * retriever that does the same to the gateway, and an in-process retriever
 * that never answers all end in `DesUnavailableError` (503 at the edge)
 * within a few seconds. The bounds asserted are far above the configured
 * timeouts; they only catch a hang.
 */

import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import { BlackHole } from "./_helpers/tcp_proxy.ts";
import { DesUnavailableError } from "../core/errors.ts";
import { Http1Pool } from "../core/http1_client.ts";
import { withTimeout } from "../core/timeouts.ts";
import { BUFFERED_HOP_BODY_LIMIT, HttpRetrieverTarget } from "../gateway/http_target.ts";
import { InProcessRetrieverTarget } from "../gateway/in_process_target.ts";
import type { LocalRetriever } from "../gateway/in_process_target.ts";
import { S3FetchGetStore } from "../retriever/s3_fetch_store.ts";
import { readAll } from "../store/object_store.ts";
import { MemoryObjectStore } from "../store/memory.ts";
import { childTrace } from "../core/trace.ts";

/** Far above every timeout below: reaching it means something hung. */
const HANG = 20_000;

function hangGuard<T>(work: Promise<T>): Promise<T> {
  return withTimeout(work, HANG, () => new Error(`still waiting after ${HANG} ms`));
}

/** A raw HTTP server that sends `head` and `firstBytes`, then nothing, on every connection. */
function stallingServer(head: string, firstBytes: string): { url: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        (async () => {
          const buf = new Uint8Array(8192);
          await conn.read(buf).catch(() => null);
          await conn.write(new TextEncoder().encode(head + "\r\n" + firstBytes)).catch(() => 0);
        })();
      }
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** The two clients of both hops: `fetch`, and keep-alive HTTP/1.1 connections. */
const CLIENTS = ["fetch", "pool"] as const;

function fetchStore(endpoint: string, pool?: Http1Pool): S3FetchGetStore {
  return new S3FetchGetStore(new MemoryObjectStore(), {
    pool,
    endpoint,
    region: "us-east-1",
    accessKeyId: "k",
    secretAccessKey: "s",
    bucket: "b",
    headersTimeoutMs: 300,
    idleTimeoutMs: 300,
  });
}

for (const client of CLIENTS) {
  Deno.test(`S3 GET (${client}) to an endpoint that never answers fails unavailable`, async () => {
    const hole = new BlackHole();
    const pool = client === "pool" ? new Http1Pool() : undefined;
    try {
      const store = fetchStore(hole.url, pool);
      const started = Date.now();
      const error = await hangGuard(
        assertRejects(() => store.get("k", { range: { suffix: 10 } }), DesUnavailableError),
      );
      assert(/no response within 300 ms/.test(error.message), error.message);
      assert(hole.accepted >= 1);
      assert(Date.now() - started < HANG);
    } finally {
      pool?.close();
      hole.close();
    }
  });

  Deno.test(`S3 GET (${client}) whose body stalls after the headers fails unavailable`, async () => {
    const small = stallingServer(
      'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\netag: "e"\r\n',
      "abc",
    );
    const large = stallingServer(
      'HTTP/1.1 200 OK\r\ncontent-length: 100000\r\netag: "e"\r\n',
      "abc",
    );
    const pool = client === "pool" ? new Http1Pool() : undefined;
    try {
      for (const server of [small, large]) {
        // A small body is read before `get` returns, a large one streams: either way it fails.
        const error = await hangGuard(
          assertRejects(
            async () => await readAll((await fetchStore(server.url, pool).get("k")).body),
            DesUnavailableError,
          ),
        );
        assert(/stalled/.test(error.message), error.message);
      }
    } finally {
      pool?.close();
      small.close();
      large.close();
    }
  });
}

for (const client of CLIENTS) {
  Deno.test(`gateway hop (${client}): a black-holed retriever and a stalled body are unavailable`, async () => {
    const pool = client === "pool" ? new Http1Pool() : undefined;
    const hole = new BlackHole();
    const server = stallingServer(
      "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nx-des-retriever: r1\r\n",
      "abc",
    );
    const large = stallingServer(
      `HTTP/1.1 200 OK\r\ncontent-length: ${
        BUFFERED_HOP_BODY_LIMIT + 1
      }\r\nx-des-retriever: r1\r\n`,
      "abc",
    );
    const range = { start: 0, end: 15 };
    const request = {
      method: "GET" as const,
      path: "/files/x",
      headers: [] as [string, string][],
      trace: childTrace(),
    };
    try {
      const dead = new HttpRetrieverTarget("r1", hole.url, range, { timeoutMs: 300, pool });
      await hangGuard(assertRejects(() => dead.forward(request), DesUnavailableError));
      // A small body is read whole before the gateway answers: its stall is a 503, no header sent.
      const slow = new HttpRetrieverTarget("r1", server.url, range, { idleTimeoutMs: 300, pool });
      const stalled = await hangGuard(
        assertRejects(
          () => slow.forward({ ...request, headers: [] }),
          DesUnavailableError,
        ),
      );
      assert(/stalled: no body bytes within 300 ms/.test(stalled.message), stalled.message);
      // A larger one streams: the headers go out, then the body is cut off.
      const slowLarge = new HttpRetrieverTarget("r1", large.url, range, {
        idleTimeoutMs: 300,
        pool,
      });
      const response = await hangGuard(slowLarge.forward({ ...request, headers: [] }));
      assertEquals(response.status, 200);
      const error = await hangGuard(
        assertRejects(() => response.arrayBuffer(), Error),
      );
      assert(/stalled|body|unavailable/i.test(String(error.message)), error.message);
    } finally {
      pool?.close();
      hole.close();
      server.close();
      large.close();
    }
  });
}

Deno.test("in-process target: a retriever that never answers is unavailable", async () => {
  const never = new Promise<never>(() => {});
  const fake = {
    id: "stuck",
    range: { start: 0, end: 15 },
    handle: () => never,
    ready: () => never,
  } as unknown as LocalRetriever;
  const target = new InProcessRetrieverTarget(fake, { timeoutMs: 300, readyTimeoutMs: 300 });
  const error = await hangGuard(
    assertRejects(
      () =>
        target.forward({
          method: "GET",
          path: "/files/x",
          headers: [],
          trace: childTrace(),
        }),
      DesUnavailableError,
    ),
  );
  assert(/did not answer within 300 ms/.test(error.message), error.message);
  assert(/did not answer within 300 ms/.test(await hangGuard(target.ready())));
});
