import { assert } from "./_helpers/assert.ts";
import { isLoopbackHost, isLoopbackUrl } from "../core/loopback.ts";

Deno.test("isLoopbackHost: every spelling of a loopback address, nothing else", () => {
  for (
    const host of [
      "127.0.0.1",
      "127.5.6.7",
      "localhost",
      "LOCALHOST",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "::ffff:127.0.0.1",
    ]
  ) assert(isLoopbackHost(host), host);
  for (
    const host of [
      "0.0.0.0",
      "::",
      "10.0.0.5",
      "128.0.0.1",
      "1.127.0.0",
      "::2",
      "::ffff:10.0.0.1",
      "127.0.0.1.evil.example",
      "localhost.evil.example",
      "example.com",
      "",
      "u@127.0.0.1",
    ]
  ) assert(!isLoopbackHost(host), host);
});

Deno.test("isLoopbackUrl: http(s) to a loopback host without credentials", () => {
  for (
    const url of [
      "http://127.0.0.1:8101",
      "https://localhost:8101/",
      "http://[::1]:80/x",
      "HTTP://LOCALHOST",
    ]
  ) assert(isLoopbackUrl(url), url);
  for (
    const url of [
      "http://10.0.0.5:8101",
      "http://127.0.0.1.evil.example:80",
      "ftp://127.0.0.1/",
      "http://u@127.0.0.1/",
      "not a url",
    ]
  ) assert(!isLoopbackUrl(url), url);
});
