/**
 * An HTTP proxy in front of the test S3 server that misbehaves on purpose
 * for chosen requests: it passes a request on (Host header kept, so SigV4
 * signatures made for the proxy still verify), answers it with 403
 * AccessDenied, or never answers at all. The shared server itself is never
 * touched.
 *
 * @module
 */

import http from "node:http";
import type { AddressInfo } from "node:net";

/** What the proxy does with one request. */
export type FaultAction = "pass" | "deny" | "stall";

/** A running proxy. */
export interface S3FaultProxy {
  /** `http://127.0.0.1:PORT`: use it as the S3 endpoint. */
  endpoint: string;
  /** Decide per request (method, path with query); replaceable at any time. */
  rule: (method: string, path: string) => FaultAction;
  /** Stop listening and drop every connection. */
  close(): Promise<void>;
}

/** Start a proxy to `target` (`http://host:port`) on a free loopback port. */
export async function startS3FaultProxy(target: string): Promise<S3FaultProxy> {
  const upstream = new URL(target);
  const stalled = new Set<http.ServerResponse>();
  const proxy: S3FaultProxy = {
    endpoint: "",
    rule: () => "pass",
    close: () => Promise.resolve(),
  };
  const server = http.createServer((req, res) => {
    const action = proxy.rule(req.method ?? "GET", req.url ?? "/");
    if (action === "stall") {
      stalled.add(res);
      req.resume();
      return;
    }
    if (action === "deny") {
      req.resume();
      res.writeHead(403, { "content-type": "application/xml" });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>' +
          "<Message>Access Denied</Message></Error>",
      );
      return;
    }
    const forward = http.request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  proxy.endpoint = `http://127.0.0.1:${port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
