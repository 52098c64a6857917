/**
 * The callers of the HTTP/1.1 pool — the S3 GET store and the gateway's
 * retriever hop — end every failure in the same typed error, and every
 * answer in the same result, whether they go through the pool or `fetch`:
 * 404 → `DesNotFoundError`, 412 → `DesConflictError`, 416 → range not
 * satisfiable, 403 → config, 5xx retried then unavailable, a broken or cut
 * answer, a refused connection or another retriever's answer → unavailable
 * (503 at the edge).
 */

import { assertEquals } from "./_helpers/assert.ts";
import { RawHttpServer } from "./_helpers/raw_http_server.ts";
import { DesError } from "../core/errors.ts";
import { Http1Pool } from "../core/http1_client.ts";
import { withTimeout } from "../core/timeouts.ts";
import { HttpRetrieverTarget } from "../gateway/http_target.ts";
import { S3FetchGetStore } from "../retriever/s3_fetch_store.ts";
import { MemoryObjectStore } from "../store/memory.ts";
import { readAll } from "../store/object_store.ts";
import { childTrace } from "../core/trace.ts";

const HANG = 20_000;
const CLIENTS = ["fetch", "pool"] as const;

/** A server answering every request with `answer`, then closing when `close` is set. */
function server(answer: string, close = false): RawHttpServer {
  return new RawHttpServer(async (conn) => {
    while ((await conn.request()) !== null) {
      await conn.write(answer);
      if (close) return conn.close();
    }
  });
}

/** A port nothing listens on. */
function refusedUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

/** The outcome: `status <n> <body>`, the class of a typed error, or "untyped error". */
async function outcome(work: () => Promise<string>): Promise<string> {
  try {
    return await withTimeout(work(), HANG, () => new Error("hung"));
  } catch (error) {
    return error instanceof DesError ? error.constructor.name : "untyped error";
  }
}

const xml = (code: string) => `<?xml version="1.0"?><Error><Code>${code}</Code></Error>`;
const s3Answer = (status: string, body: string, more = "") =>
  `HTTP/1.1 ${status}\r\ncontent-length: ${body.length}\r\n${more}\r\n${body}`;

Deno.test("S3 GET: pool and fetch map every answer and failure alike", async () => {
  // [what the server sends, closes after it, ranged, expected outcome]
  const cases: [string | null, boolean, boolean, string][] = [
    [s3Answer("404 Not Found", xml("NoSuchKey")), false, false, "DesNotFoundError"],
    [
      s3Answer("412 Precondition Failed", xml("PreconditionFailed")),
      false,
      false,
      "DesConflictError",
    ],
    [
      s3Answer("416 Range Not Satisfiable", xml("InvalidRange")),
      false,
      true,
      "DesRangeNotSatisfiableError",
    ],
    [s3Answer("403 Forbidden", xml("AccessDenied")), false, false, "DesConfigError"],
    [s3Answer("503 Slow Down", xml("SlowDown")), false, false, "DesUnavailableError"],
    [s3Answer("200 OK", "whole", 'etag: "e"\r\n'), false, true, "DesUnavailableError"], // Range ignored
    [
      s3Answer("206 Partial Content", "part", "content-range: bytes 0-3/9\r\n"),
      false,
      true,
      "status 206 part",
    ],
    ["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", true, false, "DesUnavailableError"],
    // Cut while it streams: the reader of the body sees the stream fail.
    ["HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nshort", true, false, "untyped error"],
    ["not http at all\r\n\r\n", true, false, "DesUnavailableError"],
    [null, false, false, "DesUnavailableError"], // connection refused
  ];
  for (const [answer, close, ranged, expected] of cases) {
    for (const client of CLIENTS) {
      const raw = answer === null ? undefined : server(answer, close);
      const pool = client === "pool" ? new Http1Pool() : undefined;
      let requests = 0;
      const store = new S3FetchGetStore(new MemoryObjectStore(), {
        pool,
        endpoint: raw?.url ?? refusedUrl(),
        region: "us-east-1",
        accessKeyId: "k",
        secretAccessKey: "s",
        bucket: "b",
        headersTimeoutMs: 2000,
        idleTimeoutMs: 2000,
        onRequest: () => requests++,
      });
      try {
        const got = await outcome(async () => {
          const result = await store.get("k", ranged ? { range: { offset: 0, length: 4 } } : {});
          return `status 206 ${new TextDecoder().decode(await readAll(result.body))}`;
        });
        assertEquals(got, expected, `${client}: ${JSON.stringify(answer)}`);
        if (answer?.startsWith("HTTP/1.1 503")) {
          assertEquals(requests, 3, `${client} retries a 503`);
        }
      } finally {
        pool?.close();
        await raw?.close();
      }
    }
  }
});

Deno.test("gateway hop: pool and fetch map every answer and failure alike", async () => {
  const hop = (status: string, body: string, id = "r1") =>
    `HTTP/1.1 ${status}\r\ncontent-length: ${body.length}\r\nx-des-retriever: ${id}\r\n\r\n${body}`;
  const cases: [string | null, boolean, string][] = [
    [hop("200 OK", "body"), false, "status 200 body"],
    [hop("404 Not Found", "none"), false, "status 404 none"],
    [hop("410 Gone", "gone"), false, "status 410 gone"],
    [hop("502 Bad Gateway", "damaged"), false, "status 502 damaged"],
    [hop("200 OK", "body", "r2"), false, "DesUnavailableError"], // another retriever
    [hop("421 Misdirected Request", ""), false, "DesUnavailableError"],
    [
      "HTTP/1.1 200 OK\r\nx-des-retriever: r1\r\ncontent-length: 10\r\n\r\nshort",
      true,
      "DesUnavailableError",
    ],
    ["not http at all\r\n\r\n", true, "DesUnavailableError"],
    [null, false, "DesUnavailableError"],
  ];
  for (const [answer, close, expected] of cases) {
    for (const client of CLIENTS) {
      const raw = answer === null ? undefined : server(answer, close);
      const pool = client === "pool" ? new Http1Pool() : undefined;
      const target = new HttpRetrieverTarget(
        "r1",
        raw?.url ?? refusedUrl(),
        { start: 0, end: 15 },
        {
          pool,
          timeoutMs: 2000,
          idleTimeoutMs: 2000,
        },
      );
      try {
        const got = await outcome(async () => {
          const res = await target.forward({
            method: "GET",
            path: "/files/x",
            headers: [],
            trace: childTrace(),
          });
          return `status ${res.status} ${await res.text()}`;
        });
        assertEquals(got, expected, `${client}: ${JSON.stringify(answer)}`);
      } finally {
        pool?.close();
        await raw?.close();
      }
    }
  }
});
