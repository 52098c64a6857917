/**
 * The floor of the serve benchmark: `Deno.serve` answering every request
 * with the same 4 KiB body and the headers of a DES hot read, built once. No routing, no lookup, no logging: what one request costs in
 * Deno's HTTP server alone on this machine.
 *
 * Run alone: `deno run --allow-net bench/hello_server.ts --port 8099 [--bytes 4096]`.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "8099" },
    bytes: { type: "string", default: "4096" },
  },
});
const body = new Uint8Array(Number(values.bytes)).fill(42);
const headers = new Headers({
  "etag": '"7f3a2c"',
  "last-modified": "Tue, 01 Dec 2026 00:00:00 GMT",
  "cache-control": "public, max-age=31536000, immutable",
  "accept-ranges": "bytes",
  "content-type": "application/octet-stream",
  "content-length": String(body.length),
  "x-content-type-options": "nosniff",
  "content-security-policy": "sandbox; default-src 'none'",
  "x-des-retriever": "hello",
});

const server = Deno.serve(
  { hostname: "127.0.0.1", port: Number(values.port), onListen: () => {} },
  () => new Response(body, { headers }),
);
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
