import { assert, assertEquals, assertMatch, assertThrows } from "./_helpers/assert.ts";
import { DesConfigError } from "../core/errors.ts";
import { coverageProblems, RoutingTable } from "../gateway/routing_table.ts";
import { parseRoutesYaml } from "../gateway/routes_config.ts";
import { authenticate, DesUnauthorizedError, parseApiKeys } from "../gateway/auth.ts";
import { DesRateLimitedError, TokenBucketLimiter } from "../gateway/rate_limit.ts";
import { openApiDocument } from "../gateway/openapi.ts";
import { GATEWAY_ROUTES, honoPath, NAMES_ROUTE } from "../gateway/routes.ts";
import { checkExposure, loadGatewaySettings } from "../gateway/gateway_config.ts";
import { parseShardRange } from "../naming/shard_range.ts";

const owner = (id: string, start: number, end: number) => ({ id, range: { start, end } });

Deno.test("routing table: every shard owned exactly once", () => {
  const table = RoutingTable.build([owner("b", 128, 255), owner("a", 0, 127)], 256);
  assertEquals(table.ownerOf(0).id, "a");
  assertEquals(table.ownerOf(127).id, "a");
  assertEquals(table.ownerOf(128).id, "b");
  assertEquals(table.ownerOf(255).id, "b");
  assertEquals(table.owners.map((o) => o.id), ["a", "b"]);
  assertThrows(() => table.ownerOf(256), DesConfigError);
});

Deno.test("routing table: gaps, overlaps, out-of-range and duplicate ids are refused by name", () => {
  const gap = assertThrows(
    () => RoutingTable.build([owner("a", 0, 4), owner("b", 10, 15)], 16),
    DesConfigError,
  );
  assertMatch(gap.message, /shards 5-9 have no retriever \(gap\)/);
  const overlap = assertThrows(
    () => RoutingTable.build([owner("a", 0, 9), owner("b", 8, 15)], 16),
    DesConfigError,
  );
  assertMatch(overlap.message, /shards 8-9 are owned by more than one retriever: a, b \(overlap\)/);
  const tail = assertThrows(() => RoutingTable.build([owner("a", 0, 14)], 16), DesConfigError);
  assertMatch(tail.message, /shards 15-15 have no retriever/);
  const past = assertThrows(() => RoutingTable.build([owner("a", 0, 20)], 16), DesConfigError);
  assertMatch(past.message, /range 0-20 outside the shards/);
  const dup = assertThrows(
    () => RoutingTable.build([owner("a", 0, 7), owner("a", 8, 15)], 16),
    DesConfigError,
  );
  assertMatch(dup.message, /id a is used more than once/);
  assertThrows(() => RoutingTable.build([], 16), DesConfigError, "no retrievers");
  const p = coverageProblems([owner("a", 0, 3), owner("b", 2, 5), owner("c", 9, 15)], 16);
  assertEquals(p.gaps, [{ start: 6, end: 8 }]);
  assertEquals(p.overlaps, [{ range: { start: 2, end: 3 }, owners: ["a", "b"] }]);
});

Deno.test("shard ranges parse strictly", () => {
  assertEquals(parseShardRange("0-127", 256), { start: 0, end: 127 });
  assertEquals(parseShardRange(" 5 ", 16), { start: 5, end: 5 });
  for (const bad of ["", "a-b", "5-2", "-1", "1-2-3"]) {
    assertThrows(() => parseShardRange(bad, 16), DesConfigError, undefined);
  }
  assertThrows(() => parseShardRange("0-16", 16), DesConfigError, "past the last shard 15");
});

Deno.test("routes YAML: entries parsed, bad ones named", () => {
  const yaml = `retrievers:
  - id: r1
    url: http://127.0.0.1:9000/
    range: "0-7"
  - { id: r2, url: "https://h:1", range: 8-15 }
`;
  assertEquals(parseRoutesYaml(yaml), [
    { id: "r1", url: "http://127.0.0.1:9000", range: { start: 0, end: 7 } },
    { id: "r2", url: "https://h:1", range: { start: 8, end: 15 } },
  ]);
  assertThrows(() => parseRoutesYaml("nope: 1"), DesConfigError, "retrievers:");
  assertThrows(() => parseRoutesYaml(": : :"), DesConfigError, "not valid YAML");
  assertThrows(
    () => parseRoutesYaml("retrievers:\n  - { id: r1, url: ftp://x, range: 0-1 }"),
    DesConfigError,
    "retrievers[0] (r1): url",
  );
  assertThrows(
    () => parseRoutesYaml("retrievers:\n  - { id: 'bad id', url: http://x, range: 0-1 }"),
    DesConfigError,
    "retrievers[0]",
  );
});

Deno.test("API keys: parse, authenticate, reject", () => {
  assertEquals(parseApiKeys(undefined), []);
  assertEquals(parseApiKeys("  "), []);
  const keys = parseApiKeys(
    "alice:s3cret-s3cret-s3cret, bob:other:with:colons:and-long, ops@read+admin:ops-secret-0123456789",
  );
  assertEquals(keys.map((k) => k.id), ["alice", "bob", "ops"]);
  assertEquals(authenticate("Bearer s3cret-s3cret-s3cret", keys).id, "alice");
  assertEquals(authenticate("bearer   other:with:colons:and-long ", keys).id, "bob");
  assertEquals([...keys[0].scopes], ["read", "meta"]);
  assertEquals([...keys[2].scopes], ["read", "admin"]);
  assertThrows(() => authenticate(null, keys), DesUnauthorizedError);
  assertThrows(() => authenticate("Basic czNjcmV0", keys), DesUnauthorizedError);
  assertThrows(() => authenticate("Bearer wrong", keys), DesUnauthorizedError, "not valid");
  assertThrows(() => authenticate("Bearer a b", keys), DesUnauthorizedError);
  assertThrows(() => authenticate("Bearer " + "x".repeat(5000), keys), DesUnauthorizedError);
  const e = assertThrows(() => authenticate("Bearer ", keys), DesUnauthorizedError);
  assertEquals(e.status, 401);
  for (
    const bad of [
      "alice",
      "alice:",
      ":x",
      "a b:0123456789abcdef",
      "a:0123456789abcdef,a:0123456789abcdef",
      "short:tooshort",
      "x@read+root:0123456789abcdef",
    ]
  ) {
    assertThrows(() => parseApiKeys(bad), DesConfigError, undefined);
  }
  const short = assertThrows(() => parseApiKeys("k:tooshort"), DesConfigError);
  assert(!short.message.includes("tooshort"), "the secret is never echoed");
  assertMatch(short.message, /shorter than 16/);
});

Deno.test("token bucket: burst, refill, per client, Retry-After", () => {
  const limiter = new TokenBucketLimiter(2);
  let now = 1_000_000;
  limiter.take("a", now);
  limiter.take("a", now);
  const e = assertThrows(() => limiter.take("a", now), DesRateLimitedError);
  assertEquals(e.status, 429);
  assertEquals(e.retryAfterSeconds, 1);
  limiter.take("b", now); // another client has its own bucket
  now += 500; // half a second refills one token at 2/s
  limiter.take("a", now);
  assertThrows(() => limiter.take("a", now), DesRateLimitedError);
  const slow = new TokenBucketLimiter(0.1);
  slow.take("c", now);
  assertEquals(assertThrows(() => slow.take("c", now), DesRateLimitedError).retryAfterSeconds, 10);
});

Deno.test("token bucket: the least recently seen client is evicted beyond maxClients", () => {
  const limiter = new TokenBucketLimiter(1, { burst: 1, maxClients: 3 });
  limiter.take("a", 0);
  limiter.take("b", 0);
  limiter.take("c", 0);
  assertThrows(() => limiter.take("a", 0), DesRateLimitedError); // a is now the most recent
  limiter.take("d", 0); // evicts b, the least recently seen
  assertEquals(limiter.size, 3);
  assertThrows(() => limiter.take("a", 0), DesRateLimitedError); // a kept its (empty) bucket
  limiter.take("b", 0); // b was forgotten: a fresh bucket
});

Deno.test("token bucket: eviction costs constant time per new client", () => {
  // 20 000 tracked clients and 60 000 newcomers: a scan per newcomer would take seconds here.
  const limiter = new TokenBucketLimiter(1, { burst: 5, maxClients: 20_000 });
  const started = performance.now();
  for (let i = 0; i < 80_000; i++) limiter.take(`client-${i}`, 0);
  const ms = performance.now() - started;
  assertEquals(limiter.size, 20_000);
  assert(ms < 3000, `80 000 new clients took ${ms.toFixed(0)} ms`);
});

Deno.test("OpenAPI 3.1 document is generated from the route table", () => {
  const doc = openApiDocument(GATEWAY_ROUTES, {
    version: "9",
    authEnabled: true,
    namePattern: "^x$",
  });
  assertEquals(doc.openapi, "3.1.0");
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  const ops = Object.values(paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
  assertEquals(ops.sort(), GATEWAY_ROUTES.map((r) => r.operationId).sort());
  const getFile = paths["/files/{name}"].get;
  assertEquals(getFile.security, [{ apiKey: ["read"] }]);
  assertEquals(paths["/files/{name}/meta"].get.security, [{ apiKey: ["meta"] }]);
  assertEquals(paths["/metrics"].get.security, [{ apiKey: ["admin"] }]);
  const withNames = openApiDocument([...GATEWAY_ROUTES, NAMES_ROUTE], {
    version: "9",
    authEnabled: true,
  });
  const post = (withNames.paths as typeof paths)["/names"].post;
  assertEquals(post.security, [{ apiKey: ["names"] }]);
  assert("413" in (post.responses as Record<string, unknown>));
  const responses = getFile.responses as Record<string, unknown>;
  const statuses = ["200", "206", "304", "400", "401", "403", "404", "405", "412", "416", "429"];
  for (const status of [...statuses, "503"]) {
    assert(status in responses, status);
  }
  assertEquals(paths["/healthz"].get.security, undefined);
  const open = openApiDocument(GATEWAY_ROUTES, { version: "9", authEnabled: false });
  const openGet = (open.paths as typeof paths)["/files/{name}"].get;
  assertEquals(openGet.security, undefined);
  assert(!("401" in (openGet.responses as Record<string, unknown>)));
  assertEquals(honoPath("/files/{name}/meta"), "/files/:name/meta");
});

Deno.test("gateway settings: validated together", async () => {
  const env = (vars: Record<string, string>) => new Map(Object.entries(vars));
  const ok = await loadGatewaySettings(env({ DES_GATEWAY_RATE_LIMIT: "50" }));
  assertEquals([ok.rateLimit, ok.audit, ok.apiKeys.length, ok.tls], [50, true, 0, undefined]);
  assertEquals((await loadGatewaySettings(env({ DES_GATEWAY_AUDIT: "false" }))).audit, false);
  let error: unknown;
  try {
    await loadGatewaySettings(env({
      DES_GATEWAY_RATE_LIMIT: "-1",
      DES_GATEWAY_API_KEYS: "nocolon",
      DES_TLS_CERT_FILE: "/x.pem",
    }));
  } catch (e) {
    error = e;
  }
  assert(error instanceof DesConfigError);
  const problems = (error as DesConfigError).context.problems as string[];
  assertEquals(problems.length, 3);
});

Deno.test("gateway settings: audit modes, trusted proxies, address limit", async () => {
  const env = (vars: Record<string, string>) => new Map(Object.entries(vars));
  const s = await loadGatewaySettings(env({
    DES_GATEWAY_RATE_LIMIT: "5",
    DES_GATEWAY_TRUSTED_PROXIES: "10.0.0.0/8, fd00::/8",
    DES_GATEWAY_AUDIT_REQUIRED: "true",
  }));
  assertEquals([s.rateLimit, s.addressRateLimit, s.auditRequired], [5, 5, true]);
  assertEquals(s.trustedProxies.length, 2);
  const own = await loadGatewaySettings(env({ DES_GATEWAY_ADDRESS_RATE_LIMIT: "2" }));
  assertEquals([own.rateLimit, own.addressRateLimit], [undefined, 2]);
  const bads: Record<string, string>[] = [
    { DES_GATEWAY_AUDIT_REQUIRED: "true", DES_GATEWAY_AUDIT: "false" },
    { DES_GATEWAY_TRUSTED_PROXIES: "10.0.0.0/33" },
    { DES_GATEWAY_TRUSTED_PROXIES: "everyone" },
    { DES_GATEWAY_ALLOW_ANONYMOUS: "maybe" },
  ];
  for (const bad of bads) {
    let error: unknown;
    try {
      await loadGatewaySettings(env(bad));
    } catch (e) {
      error = e;
    }
    assert(error instanceof DesConfigError, JSON.stringify(bad));
  }
});

Deno.test("an open gateway listens beyond loopback only when allowed", async () => {
  const env = (vars: Record<string, string>) => new Map(Object.entries(vars));
  const open = await loadGatewaySettings(env({}));
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) checkExposure(open, host);
  for (const host of ["0.0.0.0", "::", "10.0.0.5"]) {
    assertThrows(() => checkExposure(open, host), DesConfigError, "DES_GATEWAY_ALLOW_ANONYMOUS");
  }
  checkExposure(await loadGatewaySettings(env({ DES_GATEWAY_ALLOW_ANONYMOUS: "true" })), "0.0.0.0");
  const keyed = await loadGatewaySettings(env({ DES_GATEWAY_API_KEYS: "k:0123456789abcdef" }));
  checkExposure(keyed, "0.0.0.0");
});

Deno.test("gateway settings: the byte tier's budget", async () => {
  const env = (vars: Record<string, string>) => new Map(Object.entries(vars));
  assertEquals((await loadGatewaySettings(env({}))).cacheBytes, 0);
  const on = await loadGatewaySettings(env({ DES_GATEWAY_CACHE_BYTES: "32MiB" }));
  assertEquals(on.cacheBytes, 32 * 1024 * 1024);
  for (const bad of ["lots", "-1", "17GiB"]) {
    let error: unknown;
    try {
      await loadGatewaySettings(env({ DES_GATEWAY_CACHE_BYTES: bad }));
    } catch (e) {
      error = e;
    }
    assert(error instanceof DesConfigError, bad);
    const problems = (error as DesConfigError).context.problems as string[];
    assert(problems[0].startsWith("DES_GATEWAY_CACHE_BYTES"), problems[0]);
  }
});
