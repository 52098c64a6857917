/**
 * The keep-alive HTTP/1.1 client against a real TCP server that writes
 * crafted bytes: framing (Content-Length, chunked, the end of the
 * connection, and their conflicts), heads (interim answers, folds, broken
 * lines, oversize), keep-alive rules, the pool (retry of a request on a
 * connection the server closed, half-closes, cancelled bodies, unsolicited
 * bytes, its bound), the abort signal, both timeouts, and TLS. Wrong bytes
 * must never pass for an answer, and a connection is reused only when its
 * previous answer ended exactly where its framing said. The bounds asserted
 * only catch a hang.
 */

import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";
import { answering, RawHttpServer } from "./_helpers/raw_http_server.ts";
import { makeCertificate } from "./_helpers/tls_certificate.ts";
import {
  type Http1Answer,
  http1Origin,
  Http1Pool,
  type Http1Request,
  Http1TimeoutError,
} from "../core/http1_client.ts";
import { withTimeout } from "../core/timeouts.ts";

/** Far above every timeout below: reaching it means something hung. */
const HANG = 20_000;

function hangGuard<T>(work: Promise<T>): Promise<T> {
  return withTimeout(work, HANG, () => new Error(`still waiting after ${HANG} ms`));
}

class IdleError extends Error {}

function get(extra: Partial<Http1Request> = {}): Http1Request {
  return {
    method: "GET",
    target: "/x",
    headersTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    onIdle: () => new IdleError("idle"),
    ...extra,
  };
}

async function text(answer: Http1Answer): Promise<string> {
  const { body } = answer;
  if (body === null) return "";
  const bytes = body instanceof Uint8Array ? body : await new Response(body).bytes();
  return new TextDecoder().decode(bytes);
}

/** A pool and a scripted server, both closed after `test`. */
async function withServer(
  server: RawHttpServer,
  test: (
    send: (r?: Partial<Http1Request>) => Promise<Http1Answer>,
    pool: Http1Pool,
  ) => Promise<void>,
  pool = new Http1Pool(),
): Promise<void> {
  const origin = http1Origin(server.url);
  try {
    await hangGuard(test((r) => pool.request(origin, get(r)), pool));
  } finally {
    pool.close();
    await server.close();
  }
}

const ok = (body: string, more = "") =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${more}\r\n${body}`;

const big = "b".repeat(200_000);

Deno.test("http1: Content-Length bodies, small and large, reuse one connection", async () => {
  const server = new RawHttpServer(answering((_, n) => ok(n % 2 ? big : "hello")));
  await withServer(server, async (send) => {
    for (let i = 0; i < 4; i++) {
      const answer = await send();
      assertEquals(answer.status, 200);
      assertEquals(await text(answer), i % 2 ? big : "hello");
    }
    assertEquals(server.accepted, 1);
  });
});

Deno.test("http1: field values lose leading and trailing spaces and tabs, not inner ones", async () => {
  const more = "x-a: \t a b \t \r\nx-b:c\r\nx-c: \t\r\nX-D:\t\td\t\r\n";
  const server = new RawHttpServer(answering(() => ok("hi", more)));
  await withServer(server, async (send) => {
    const answer = await send();
    assertEquals(answer.headers.filter(([n]) => n.startsWith("x-")), [
      ["x-a", "a b"],
      ["x-b", "c"],
      ["x-c", ""],
      ["x-d", "d"],
    ]);
    assertEquals(await text(answer), "hi");
  });
});

Deno.test("http1: chunked with extensions, uppercase hex, trailers; the connection is reused", async () => {
  const body = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;name=value\r\nhello\r\nA\r\n0123456789\r\n0;last\r\nx-trailer: t\r\n\r\n";
  const server = new RawHttpServer(answering(() => body));
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "hello0123456789");
    assertEquals(await text(await send()), "hello0123456789");
    assertEquals(server.accepted, 1);
  });
});

Deno.test("http1: a chunk size that is not hex, negative, or huge fails the body", async () => {
  for (const size of ["zz", "-1", "0x5", "1ffffffffffffffff", "", " "]) {
    const server = new RawHttpServer(
      answering(() =>
        `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`
      ),
    );
    await withServer(server, async (send) => {
      await assertRejects(() => send().then(text), Error, undefined);
    });
  }
});

Deno.test("http1: chunked and Content-Length together: chunked wins and the connection is not reused", async () => {
  const server = new RawHttpServer(
    answering((_, n, index) =>
      n + index === 0
        ? "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        : ok("second")
    ),
  );
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "hello");
    assertEquals(await text(await send()), "second");
    assertEquals(server.accepted, 2, "an ambiguous answer must not leave its connection reused");
  });
});

Deno.test("http1: a transfer coding other than chunked last is read to the end of the connection", async () => {
  const server = new RawHttpServer(async (conn) => {
    await conn.request();
    await conn.write(
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: identity\r\n" +
        "content-length: 2\r\n\r\nabcdef",
    );
    conn.close();
  });
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "abcdef");
  });
});

Deno.test("http1: conflicting or invalid Content-Length is an error; repeated equal values are one", async () => {
  for (const fields of ["content-length: 2\r\ncontent-length: 5", "content-length: 2, 5"]) {
    const server = new RawHttpServer(async (conn) => {
      await conn.request();
      await conn.write(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\nhello`);
      conn.close();
    });
    await withServer(server, async (send) => {
      await assertRejects(() => send().then(text));
    });
  }
  for (const value of ["abc", "-5", "+5", "5 5", "0x5"]) {
    const server = new RawHttpServer(async (conn) => {
      await conn.request();
      await conn.write(`HTTP/1.1 200 OK\r\ncontent-length: ${value}\r\n\r\nhello`);
      conn.close();
    });
    await withServer(server, async (send) => {
      await assertRejects(() => send().then(text), Error, undefined);
    });
  }
  const server = new RawHttpServer(
    answering(() => "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5, 5\r\n\r\nhello"),
  );
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "hello");
  });
});

Deno.test("http1: a body shorter than its Content-Length then the end is an error, small or large", async () => {
  for (const length of [10, 100_000]) {
    const server = new RawHttpServer(async (conn) => {
      await conn.request();
      await conn.write(`HTTP/1.1 200 OK\r\ncontent-length: ${length}\r\n\r\nshort`);
      conn.close();
    });
    await withServer(server, async (send) => {
      await assertRejects(() => send().then(text), Error, "closed inside a body");
    });
  }
});

Deno.test("http1: a chunked body cut before its last chunk is an error", async () => {
  const server = new RawHttpServer(async (conn) => {
    await conn.request();
    await conn.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
    conn.close();
  });
  await withServer(server, async (send) => {
    await assertRejects(() => send().then(text), Error, "closed inside a chunked body");
  });
});

Deno.test("http1: bytes beyond the Content-Length never reach the next request", async () => {
  // In the same write as the answer, and in a later one while the connection is idle.
  for (const later of [false, true]) {
    const server = new RawHttpServer(async (conn, index) => {
      if (index > 0) return answering(() => ok("fresh"))(conn, index);
      await conn.request();
      const extra = ok("stale");
      if (!later) return await conn.write(ok("hi") + extra);
      await conn.write(ok("hi"));
      await new Promise((r) => setTimeout(r, 200));
      await conn.write(extra);
      await conn.request();
    });
    await withServer(server, async (send) => {
      assertEquals(await text(await send()), "hi");
      await new Promise((r) => setTimeout(r, 500));
      assertEquals(await text(await send()), "fresh", `extra bytes ${later ? "later" : "at once"}`);
    });
  }
});

Deno.test("http1: an answer sent while idle (408 then close) is not taken for the next", async () => {
  const server = new RawHttpServer(async (conn, index) => {
    if (index > 0) return answering(() => ok("fresh"))(conn, index);
    await conn.request();
    await conn.write(ok("hi"));
    await new Promise((r) => setTimeout(r, 100));
    await conn.write(
      "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    conn.close();
  });
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "hi");
    await new Promise((r) => setTimeout(r, 500));
    const answer = await send();
    assertEquals([answer.status, await text(answer)], [200, "fresh"]);
  });
});

Deno.test("http1: a body delimited by the end of the connection; that connection is not reused", async () => {
  const server = new RawHttpServer(async (conn, index) => {
    await conn.request();
    await conn.write(`HTTP/1.1 200 OK\r\n\r\nuntil the end ${index}`);
    conn.close();
  });
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "until the end 0");
    assertEquals(await text(await send()), "until the end 1");
    assertEquals(server.accepted, 2);
  });
});

Deno.test("http1: HEAD, 204 and 304 read no body even with a Content-Length", async () => {
  const server = new RawHttpServer(answering((head, n) => {
    if (n === 3) return ok("after");
    const status = ["200 OK", "204 No Content", "304 Not Modified"][n];
    assert(n > 0 || head.startsWith("HEAD "));
    return `HTTP/1.1 ${status}\r\ncontent-length: 100\r\n\r\n`;
  }));
  await withServer(server, async (send) => {
    const head = await send({ method: "HEAD" });
    assertEquals([head.status, head.body], [200, null]);
    assertEquals((await send()).body, null);
    assertEquals((await send()).status, 304);
    assertEquals(await text(await send()), "after");
    assertEquals(server.accepted, 1);
  });
});

Deno.test("http1: interim 1xx answers are skipped, also when the final head comes in a later write", async () => {
  for (
    const interim of [
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n",
    ]
  ) {
    const server = new RawHttpServer(async (conn) => {
      for (;;) {
        if ((await conn.request()) === null) return;
        await conn.write(interim);
        await new Promise((r) => setTimeout(r, 100));
        await conn.write("HTTP/1.1 204 No Content\r\n\r\n");
      }
    });
    await withServer(server, async (send) => {
      assertEquals((await send()).status, 204);
      assertEquals((await send()).status, 204);
    });
  }
});

Deno.test("http1: 101 Switching Protocols is an error (no upgrade was asked)", async () => {
  const server = new RawHttpServer(
    answering(() =>
      "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n" +
      ok("after the switch")
    ),
  );
  await withServer(server, async (send) => {
    await assertRejects(() => send());
  });
});

Deno.test("http1: malformed heads are errors, never answers", async () => {
  const heads = [
    // obs-fold: the folded line must not become a field of its own.
    "HTTP/1.1 200 OK\r\nx-a: a\r\n content-length: 2\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\n: empty name\r\ncontent-length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nx-a: a\nx-b: b\r\ncontent-length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\nx-a: a\ncontent-length: 5\n\nhello",
    "HTTP/1.1 2000 OK\r\ncontent-length: 5\r\n\r\nhello",
    "HTTP/1.1 099 Low\r\ncontent-length: 5\r\n\r\nhello",
    "HTTP/1.1 600 High\r\ncontent-length: 5\r\n\r\nhello",
    "HTTP/2 200 OK\r\ncontent-length: 5\r\n\r\nhello",
    "garbage\r\n\r\n",
  ];
  for (const head of heads) {
    const server = new RawHttpServer(async (conn) => {
      await conn.request();
      await conn.write(head);
      conn.close();
    });
    await withServer(server, async (send) => {
      const got = await send({ headersTimeoutMs: 2000 }).then(text).then((t) => t, (e) => e);
      assert(got instanceof Error, `accepted ${JSON.stringify(head)} as ${JSON.stringify(got)}`);
    });
  }
});

Deno.test("http1: a head over 64 KiB is an error", async () => {
  const server = new RawHttpServer(
    answering(() =>
      `HTTP/1.1 200 OK\r\n${"x-filler: " + "f".repeat(1000) + "\r\n"}`.repeat(70) + "\r\n"
    ),
  );
  await withServer(server, async (send) => {
    await assertRejects(() => send(), Error, "too large");
  });
});

Deno.test("http1: keep-alive by version and Connection fields", async () => {
  const cases: [string, boolean][] = [
    ["HTTP/1.1 200 OK\r\n", true],
    ["HTTP/1.1 200 OK\r\nconnection: close\r\n", false],
    ["HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Close\r\n", false],
    ["HTTP/1.1 200 OK\r\nconnection: close\r\nconnection: keep-alive\r\n", false],
    ["HTTP/1.0 200 OK\r\n", false],
    ["HTTP/1.0 200 OK\r\nconnection: keep-alive\r\n", true],
    ["HTTP/1.0 200 OK\r\nconnection: x-other\r\n", false],
  ];
  for (const [head, reused] of cases) {
    const server = new RawHttpServer(answering(() => `${head}content-length: 2\r\n\r\nhi`));
    await withServer(server, async (send) => {
      assertEquals(await text(await send()), "hi");
      assertEquals(await text(await send()), "hi");
      assertEquals(server.accepted, reused ? 1 : 2, head);
    });
  }
});

Deno.test("http1: a pooled connection the server closed is replaced once, before any answer byte", async () => {
  const server = new RawHttpServer(async (conn, index) => {
    await conn.request();
    await conn.write(ok(`answer ${index}`));
    conn.close(); // without `connection: close`: the client learns it on its next request
  });
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "answer 0");
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(await text(await send()), "answer 1");
    assertEquals(server.accepted, 2);
  });
});

Deno.test("http1: a reused connection closed on receipt of the request is retried once on a new one", async () => {
  const server = new RawHttpServer(async (conn, index) => {
    await conn.request();
    if (index === 0) {
      await conn.write(ok("first"));
      await conn.request();
    } else await conn.write(ok(`retried ${index}`));
    conn.close(); // no byte of the second answer
  });
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "first");
    assertEquals(await text(await send()), "retried 1");
    assertEquals([server.accepted, server.requests], [2, 3]);
  });
  // A new connection that fails the same way is not retried.
  const closing = new RawHttpServer(async (conn) => {
    await conn.request();
    conn.close();
  });
  await withServer(closing, async (send) => {
    await assertRejects(() => send(), Error, "closed before an answer");
    assertEquals(closing.accepted, 1);
  });
});

Deno.test("http1: a request target or header with a line break or space is refused before sending", async () => {
  const server = new RawHttpServer(answering(() => ok("never")));
  await withServer(server, async (send) => {
    for (const target of ["/x HTTP/1.1\r\nx-injected: 1\r\n\r\nGET /y", "/a b"]) {
      await assertRejects(() => send({ target }), TypeError);
    }
    await assertRejects(() => send({ headers: [["x-a", "v\r\nx-injected: 1"]] }), TypeError);
    assertEquals(server.requests, 0);
  });
});

Deno.test("http1: no retry after part of an answer arrived on a reused connection", async () => {
  const server = new RawHttpServer(async (conn, index) => {
    await conn.request();
    await conn.write(ok("first"));
    if (index > 0) return;
    await conn.request();
    await conn.write("HTTP/1.1 200 OK\r\ncontent-le");
    conn.close();
  });
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "first");
    await assertRejects(() => send(), Error, "closed before an answer");
    assertEquals([server.accepted, server.requests], [1, 2]);
  });
});

Deno.test("http1: an answer then a half-close: the answer is whole, the next request on a new connection", async () => {
  const server = new RawHttpServer(async (conn, index) => {
    await conn.request();
    await conn.write(ok(`half ${index}`));
    await conn.closeWrite();
  });
  await withServer(server, async (send) => {
    assertEquals(await text(await send()), "half 0");
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(await text(await send()), "half 1");
    assertEquals(server.accepted, 2);
  });
});

Deno.test("http1: a large body cancelled midway closes its connection", async () => {
  const server = new RawHttpServer(answering(() => ok(big)));
  await withServer(server, async (send) => {
    const answer = await send();
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    assert(!(await reader.read()).done);
    await reader.cancel();
    assertEquals(await text(await send()), big);
    assertEquals(server.accepted, 2);
    for (let i = 0; i < 100 && server.closedByClient < 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(server.closedByClient, 1);
  });
});

Deno.test("http1: the abort signal ends the wait for the head, a small body and a large body", async () => {
  const server = new RawHttpServer(async (conn) => {
    const head = await conn.request();
    if (head?.includes("/small")) {
      await conn.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab");
    }
    if (head?.includes("/large")) {
      await conn.write(`HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nab`);
    }
  });
  await withServer(server, async (send) => {
    const reason = new Error("client went away");
    for (const target of ["/none", "/small"]) {
      const abort = new AbortController();
      setTimeout(() => abort.abort(reason), 200);
      const error = await assertRejects(() => send({ target, signal: abort.signal }));
      assertEquals(error, reason, target);
    }
    const abort = new AbortController();
    const answer = await send({ target: "/large", signal: abort.signal });
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    setTimeout(() => abort.abort(reason), 100);
    assertEquals(await reader.read().catch((e) => e), reason);
    const aborted = new AbortController();
    aborted.abort(reason);
    assertEquals(await send({ signal: aborted.signal }).catch((e) => e), reason);
  }, new Http1Pool());
});

Deno.test("http1: a late head is Http1TimeoutError, a stalled body the caller's idle error", async () => {
  const server = new RawHttpServer(async (conn) => {
    const head = await conn.request();
    if (head?.includes("/small")) {
      await conn.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab");
    }
    if (head?.includes("/large")) {
      await conn.write(`HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nab`);
    }
    if (head?.includes("/chunked")) {
      await conn.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n`);
    }
  });
  await withServer(server, async (send) => {
    const bounds = { headersTimeoutMs: 300, idleTimeoutMs: 300 };
    await assertRejects(() => send({ target: "/none", ...bounds }), Http1TimeoutError);
    await assertRejects(() => send({ target: "/small", ...bounds }), IdleError);
    for (const target of ["/large", "/chunked"]) {
      await assertRejects(() => send({ target, ...bounds }).then(text), IdleError);
    }
  });
});

Deno.test("http1: many concurrent requests all answered; only maxIdlePerOrigin connections are kept", async () => {
  const server = new RawHttpServer(async (conn, index) => {
    await conn.request();
    await new Promise((r) => setTimeout(r, 100)); // every request holds its connection a while
    await conn.write(ok(`c${index}`));
    await answering(() => ok("again"))(conn, index);
  });
  const pool = new Http1Pool({ maxIdlePerOrigin: 4 });
  await withServer(server, async (send) => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => send().then(text)));
    assertEquals(new Set(answers).size, 40);
    for (let i = 0; i < 100 && server.closedByClient < 36; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals([server.accepted, server.closedByClient], [40, 36]);
    for (let i = 0; i < 8; i++) assertEquals(await text(await send()), "again");
    assertEquals(server.accepted, 40);
  }, pool);
});

Deno.test("http1: TLS through connectTls with a test CA; the connection is reused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = await makeCertificate(dir);
    const server = new RawHttpServer(answering((_, n) => ok(`tls ${n}`)), files);
    const pool = new Http1Pool({ caCerts: [await Deno.readTextFile(files.cert)] });
    const origin = http1Origin(`https://localhost:${server.port}`);
    try {
      assertEquals(await text(await hangGuard(pool.request(origin, get()))), "tls 0");
      assertEquals(await text(await hangGuard(pool.request(origin, get()))), "tls 1");
      assertEquals(server.accepted, 1);
      const untrusting = new Http1Pool();
      await assertRejects(() => hangGuard(untrusting.request(origin, get())));
      untrusting.close();
    } finally {
      pool.close();
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http1: at most maxInFlightPerOrigin requests in flight; the others wait their turn", async () => {
  let holding = 0;
  let most = 0;
  const server = new RawHttpServer(async (conn, index) => {
    for (let n = 0;; n++) {
      if ((await conn.request()) === null) return;
      holding++;
      most = Math.max(most, holding);
      await new Promise((r) => setTimeout(r, 20)); // each answer takes a while
      holding--;
      await conn.write(ok(`c${index}-${n}`));
    }
  });
  await withServer(server, async (send) => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => send().then(text)));
    assertEquals(new Set(answers).size, 30);
    assertEquals(most, 3, "requests the server held at once");
    assert(server.accepted <= 3, `${server.accepted} connections for 3 places`);
  }, new Http1Pool({ maxInFlightPerOrigin: 3 }));
});

Deno.test("http1: a request waiting for a place times out within its bound or leaves on abort; a streaming body holds no place", async () => {
  const release = Promise.withResolvers<void>();
  const server = new RawHttpServer(async (conn) => {
    for (;;) {
      const head = await conn.request();
      if (head === null) return;
      if (head.includes("/hold")) await release.promise;
      if (head.includes("/stream")) {
        await conn.write(
          `HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n${big.slice(0, 100)}`,
        );
        await release.promise;
        await conn.write(big.slice(100));
        continue;
      }
      await conn.write(ok("done"));
    }
  });
  const pool = new Http1Pool({ maxInFlightPerOrigin: 1 });
  const origin = http1Origin(server.url);
  try {
    // A body that streams gives its place back as soon as its head is read.
    const streaming = await hangGuard(pool.request(origin, get({ target: "/stream" })));
    assertEquals(await text(await hangGuard(pool.request(origin, get()))), "done");
    // One request holds the only place; the next ones wait.
    const held = pool.request(origin, get({ target: "/hold" }));
    const t0 = performance.now();
    await assertRejects(
      () => hangGuard(pool.request(origin, get({ headersTimeoutMs: 200 }))),
      Http1TimeoutError,
    );
    assert(performance.now() - t0 < 5000, "the wait outlived its bound");
    const abort = new AbortController();
    const leaving = pool.request(origin, get({ signal: abort.signal }));
    setTimeout(() => abort.abort(new Error("caller gone")), 50);
    await assertRejects(() => hangGuard(leaving), Error, "caller gone");
    const waiting = pool.request(origin, get());
    release.resolve();
    assertEquals(await text(await hangGuard(held)), "done");
    assertEquals(await text(await hangGuard(waiting)), "done");
    assertEquals((await text(streaming)).length, big.length);
  } finally {
    release.resolve();
    pool.close();
    await server.close();
  }
});
