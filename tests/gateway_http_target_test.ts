/**
 * The gateway → retriever hop over real HTTP: a small body arrives read
 * whole, a larger one streams, HEAD and 304 carry none; the token is sent;
 * the answer's headers belong to the caller; connections are reused.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { childTrace } from "../core/trace.ts";
import { BUFFERED_HOP_BODY_LIMIT, HttpRetrieverTarget } from "../gateway/http_target.ts";
import { hopTargetOptions } from "../gateway/retriever_hop.ts";
import { readAll } from "../store/object_store.ts";

Deno.test("HttpRetrieverTarget: bodies small and large, HEAD, 304, token, reused connections", async () => {
  const small = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
  const large = Uint8Array.from({ length: BUFFERED_HOP_BODY_LIMIT * 2 + 3 }, (_, i) => i * 7);
  const seen: { authorization: string | null; traceparent: string | null }[] = [];
  const peers = new Set<number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    peers.add((info.remoteAddr as Deno.NetAddr).port);
    seen.push({
      authorization: req.headers.get("authorization"),
      traceparent: req.headers.get("traceparent"),
    });
    const headers = { "x-des-retriever": "r1", "etag": '"e1"' };
    const path = new URL(req.url).pathname;
    if (path === "/files/large") return new Response(large, { headers });
    // No Content-Length: sent in chunks.
    if (path === "/files/chunked") {
      return new Response(ReadableStream.from([small, large]), { headers });
    }
    if (req.headers.get("if-none-match") === '"e1"') {
      return new Response(null, { status: 304, headers });
    }
    return new Response(req.method === "HEAD" ? null : small, { headers });
  });
  const token = "t".repeat(32);
  const options = hopTargetOptions({ token, allowedUrls: [] });
  const target = new HttpRetrieverTarget(
    "r1",
    `http://127.0.0.1:${server.addr.port}/`,
    { start: 0, end: 15 },
    options,
  );
  const request = (method: "GET" | "HEAD", path: string, extra: [string, string][] = []) => ({
    method,
    path,
    headers: [
      ["traceparent", "00-" + "1".repeat(32) + "-" + "2".repeat(16) + "-01"],
      ...extra,
    ] as [string, string][],
    trace: childTrace(),
  });
  try {
    for (let i = 0; i < 5; i++) {
      const res = await target.forward(request("GET", "/files/small"));
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("content-length"), String(small.byteLength));
      res.headers.set("x-content-type-options", "nosniff"); // the caller's to change
      assertEquals(new Uint8Array(await res.arrayBuffer()), small);
    }
    const big = await target.forward(request("GET", "/files/large"));
    assertEquals(big.status, 200);
    assert(big.body instanceof ReadableStream);
    assertEquals(await readAll(big.body), large);
    const chunked = await target.forward(request("GET", "/files/chunked"));
    assertEquals(await readAll(chunked.body!), new Uint8Array([...small, ...large]));
    const head = await target.forward(request("HEAD", "/files/small"));
    assertEquals([head.status, head.body, head.headers.get("etag")], [200, null, '"e1"']);
    head.headers.delete("etag");
    const notModified = await target.forward(
      request("GET", "/files/small", [["if-none-match", '"e1"']]),
    );
    assertEquals([notModified.status, await notModified.text()], [304, ""]);
    assertEquals(seen.length, 9);
    for (const s of seen) {
      assertEquals(s.authorization, `Bearer ${token}`);
      assertEquals(s.traceparent, "00-" + "1".repeat(32) + "-" + "2".repeat(16) + "-01");
    }
    // Nine requests in sequence on one keep-alive connection.
    assertEquals(peers.size, 1);
  } finally {
    options.pool?.close();
    options.client.close();
    await server.shutdown();
  }
});
