/**
 * Credentials never printed: URL passwords and credential query parameters
 * are redacted in log lines, configuration errors and `des env`; secret
 * settings show as `(set)`.
 */

import { assert, assertEquals, assertThrows } from "./_helpers/assert.ts";
import { loadConfig } from "../core/config.ts";
import { DesConfigError } from "../core/errors.ts";
import { Logger } from "../core/log.ts";
import { displayValue, redactCredentials } from "../core/redact.ts";

const CLI = new URL("../cli/des.ts", import.meta.url).pathname;

Deno.test("redactCredentials: URL passwords and credential parameters, nothing else", () => {
  const cases: [string, string][] = [
    ["postgres://des:hunter2@db:5432/des", "postgres://des:***@db:5432/des"],
    ["postgres://des@db:5432/des", "postgres://des@db:5432/des"],
    ["see https://a:b@c/d and s3://k:s@h", "see https://a:***@c/d and s3://k:***@h"],
    ["postgres://u:p@ss:w@h/db", "postgres://u:***@h/db"],
    ["postgres://h/db?user=u&password=pw&x=1", "postgres://h/db?user=u&password=***&x=1"],
    ["http://host:8080/x@y", "http://host:8080/x@y"],
    ['{"url":"postgres://u:pw@h"}', '{"url":"postgres://u:***@h"}'],
    ["plain text", "plain text"],
    [
      "error sending request for url (http://h/b/k?X-Amz-Date=1&X-Amz-Signature=abc123): refused",
      "error sending request for url (http://h/b/k?X-Amz-Date=1&X-Amz-Signature=*** refused",
    ],
  ];
  for (const [input, expected] of cases) assertEquals(redactCredentials(input), expected, input);
  assertEquals(displayValue("DES_S3_SECRET_ACCESS_KEY", "abc"), "(set)");
  assertEquals(displayValue("DES_GATEWAY_API_KEYS", "a:0123456789abcdef"), "(set)");
  const long = "a".repeat(200_000) + "://" + ":".repeat(100_000);
  const started = performance.now();
  redactCredentials(long);
  assert(performance.now() - started < 1000, "linear on long text");
});

Deno.test("a configuration error does not echo a URL's password", () => {
  const e = assertThrows(
    () => loadConfig(new Map([["DES_DATABASE_URL", "mysql://des:hunter2@db/des"]])),
    DesConfigError,
  );
  assert(e.message.includes("DES_DATABASE_URL"), e.message);
  assert(!e.message.includes("hunter2"), e.message);
  assert(!JSON.stringify(e.context).includes("hunter2"));
});

Deno.test("log lines never carry a URL's password", () => {
  const lines: string[] = [];
  const log = new Logger("test", { sink: (l) => lines.push(l), level: "debug" });
  log.error("could not connect", {
    url: "postgres://des:hunter2@db/des",
    error: new Error("connect ECONNREFUSED postgres://des:hunter2@db:5432"),
  });
  assertEquals(lines.length, 1);
  assert(!lines[0].includes("hunter2"), lines[0]);
  assertEquals(JSON.parse(lines[0]).url, "postgres://des:***@db/des");
});

Deno.test("des env shows no secret", async () => {
  const out = await new Deno.Command("deno", {
    args: ["run", "-A", CLI, "env"],
    env: {
      NO_COLOR: "1",
      DES_DATABASE_URL: "postgres://des:hunter2@db.example:5432/des",
      DES_S3_ENDPOINT: "http://rgw.example:7480",
      DES_S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
      DES_S3_SECRET_ACCESS_KEY: "s3-secret-value",
      DES_GATEWAY_API_KEYS: "app:app-secret-0123456789",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  for (const secret of ["hunter2", "s3-secret-value", "app-secret-0123456789"]) {
    assert(!text.includes(secret), `${secret} printed`);
  }
  assert(text.includes("postgres://des:***@db.example:5432/des"), text);
  assert(/DES_GATEWAY_API_KEYS\s+\(set\)/.test(text), text);
  assert(/DES_GATEWAY_AUDIT_REQUIRED\s+false \(default\)/.test(text), text);
});
