/**
 * Client addresses at the gateway: forwarding headers count only from
 * trusted proxies, the chain is walked from the right, garbage stops the
 * walk, IPv6 clients are grouped by /64, and a long header costs nothing.
 */

import { assert, assertEquals, assertThrows } from "./_helpers/assert.ts";
import { DesConfigError } from "../core/errors.ts";
import {
  addressKey,
  clientAddress,
  formatIp,
  parseCidrs,
  parseIp,
} from "../gateway/client_address.ts";

const h = (headers: Record<string, string>) => new Headers(headers);

Deno.test("IP addresses parse strictly; IPv4-mapped IPv6 is IPv4", () => {
  const cases: [string, string | undefined][] = [
    ["1.2.3.4", "1.2.3.4"],
    ["::1", "0:0:0:0:0:0:0:1"],
    ["[2001:db8::1]", "2001:db8:0:0:0:0:0:1"],
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["fe80::1%eth0", "fe80:0:0:0:0:0:0:1"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1::2::3", undefined],
    ["1.2.3.256", undefined],
    ["1:2:3:4:5:6:7:8:9", undefined],
    ["unknown", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of cases) {
    const ip = parseIp(text);
    assertEquals(ip && formatIp(ip), expected, text);
  }
});

Deno.test("rate-limit keys: IPv4 as is, IPv6 by /64", () => {
  assertEquals(addressKey("10.0.0.1"), "10.0.0.1");
  assertEquals(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assertEquals(addressKey("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
  assert(addressKey("2001:db8:1:3::1") !== addressKey("2001:db8:1:2::1"));
});

Deno.test("forwarding headers count only from trusted proxies", () => {
  const trusted = parseCidrs("10.0.0.0/8, fd00::/8");
  const xff = { "x-forwarded-for": "9.9.9.9, 1.1.1.1, 10.2.2.2" };
  assertEquals(clientAddress("10.1.1.1", h(xff), trusted), "1.1.1.1");
  assertEquals(clientAddress("8.8.8.8", h(xff), trusted), "8.8.8.8", "untrusted peer");
  assertEquals(clientAddress("10.1.1.1", h(xff), []), "10.1.1.1", "no trusted proxies");
  assertEquals(
    clientAddress(
      "10.1.1.1",
      h({ forwarded: 'for=1.1.1.1;proto=http, for="[2001:db8::5]:80"' }),
      trusted,
    ),
    "2001:db8:0:0:0:0:0:5",
  );
  assertEquals(
    clientAddress(
      "10.1.1.1",
      h({ forwarded: "for=unknown", "x-forwarded-for": "7.7.7.7" }),
      trusted,
    ),
    "10.1.1.1",
    "Forwarded wins; an unknown hop stops at the proxy",
  );
  assertEquals(
    clientAddress("10.1.1.1", h({ "x-forwarded-for": "1.1.1.1, <garbage>" }), trusted),
    "10.1.1.1",
  );
  const long = "1.1.1.1, ".repeat(10_000);
  const started = performance.now();
  assertEquals(clientAddress("10.1.1.1", h({ "x-forwarded-for": long }), trusted), "10.1.1.1");
  assert(performance.now() - started < 500);
  assertThrows(() => parseCidrs("10.0.0.0/8,nonsense"), DesConfigError, "not a CIDR");
});
