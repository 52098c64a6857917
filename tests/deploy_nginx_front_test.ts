/**
 * The shipped nginx front (`deploy/nginx/des-gateway.conf`) against slow and greedy clients: a
 * client that never finishes its headers is cut off by the header-read timeout, more than 64
 * connections of one address are refused with 429, and the client address reaches the gateway
 * in `X-Forwarded-For`, replacing whatever the client sent. TLS lines are swapped for a plain
 * loopback listen port; everything else is the file as shipped.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { ensureHttpTools } from "../bench/http_tools.ts";

const CONF = new URL("../deploy/nginx/des-gateway.conf", import.meta.url);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The shipped file with a plain listen port and the given upstream port. */
function testConfig(shipped: string, port: number, upstream: number): string {
  const out = shipped
    .replace(/^\s*listen \[::\]:443 ssl;\n/m, "")
    .replace(/^(\s*)listen 443 ssl;/m, "$1listen 127.0.0.1:LISTEN_PORT;")
    .replace(/^\s*http2 on;\n/m, "")
    .replace(/^\s*ssl_[a-z_]+ [^;]+;\n/gm, "")
    .replace("server 127.0.0.1:8080;", "server 127.0.0.1:UPSTREAM_PORT;");
  // Checked before the ports go in: a free port such as 44301 contains ":443".
  assert(!/ssl|:443|:8080/.test(out.replace(/^#.*$/gm, "")), "the test config still has TLS lines");
  return out.replace(":LISTEN_PORT;", `:${port};`).replace(":UPSTREAM_PORT;", `:${upstream};`);
}

async function readAll(
  conn: Deno.Conn,
  deadlineMs: number,
): Promise<{ text: string; closed: boolean }> {
  const buf = new Uint8Array(4096);
  let text = "";
  const timer = setTimeout(() => conn.close(), deadlineMs);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return { text, closed: true };
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    return { text, closed: false };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

Deno.test({
  name:
    "nginx front: slow headers are cut off, connections per address are capped, X-Forwarded-For is set",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await ensureHttpTools(() => {});
    const dir = await Deno.makeTempDir({ prefix: "des-nginx-" });
    const upstreamPort = freePort();
    const upstream = Deno.serve(
      { hostname: "127.0.0.1", port: upstreamPort, onListen() {} },
      async (req) => {
        if (new URL(req.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 3000));
        return new Response(req.headers.get("x-forwarded-for") ?? "-");
      },
    );
    const port = freePort();
    const shipped = await Deno.readTextFile(CONF);
    await Deno.writeTextFile(`${dir}/des-gateway.conf`, testConfig(shipped, port, upstreamPort));
    await Deno.writeTextFile(
      `${dir}/nginx.conf`,
      `pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  include ${dir}/des-gateway.conf;
}
`,
    );
    const nginx = new Deno.Command("nginx", {
      args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/`);
          await res.body?.cancel();
          up = true;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert(up, "nginx did not start");

      // the client address replaces a forged X-Forwarded-For
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
        headers: { "x-forwarded-for": "203.0.113.9" },
      });
      assertEquals(res.status, 200);
      assertEquals(await res.text(), "127.0.0.1");

      // 20 clients that never finish their headers are disconnected by the header timeout (10 s)
      const slow = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          await conn.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: "));
          return conn;
        }),
      );
      // while they hang, others are served
      const during = await fetch(`http://127.0.0.1:${port}/healthz`);
      assertEquals(during.status, 200);
      await during.body?.cancel();
      const ends = await Promise.all(slow.map((c) => readAll(c, 30_000)));
      assertEquals(
        ends.filter((e) => e.closed).length,
        20,
        "slow clients still connected after 30 s",
      );

      // more than 64 requests in flight from one address: the excess is refused with 429
      const greedy = await Promise.all(
        Array.from({ length: 80 }, async () => {
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          await conn.write(
            new TextEncoder().encode("GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
          );
          return readAll(conn, 30_000);
        }),
      );
      const statuses = greedy.map((g) => Number(g.text.split(" ")[1]));
      const refused = statuses.filter((s) => s === 429).length;
      const served = statuses.filter((s) => s === 200).length;
      assert(served <= 64, `${served} requests of one address served at once`);
      assert(refused >= 16, `only ${refused} of 80 refused: ${statuses.join(",")}`);
    } finally {
      nginx.kill("SIGTERM");
      const out = await nginx.output();
      await upstream.shutdown();
      if (!out.success && out.code !== 143 && out.signal !== "SIGTERM") {
        console.error(new TextDecoder().decode(out.stderr));
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
