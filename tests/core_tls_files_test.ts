/**
 * The TLS certificate and key settings shared by the gateway and the
 * retriever: both or neither, files read as text, problems collected
 * without echoing contents; the hop token read the same way by both.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { hopTokenOf } from "../core/hop_token.ts";
import { loadTlsFiles } from "../core/tls_files.ts";

Deno.test("loadTlsFiles: neither, both, one alone, unreadable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cert = `${dir}/cert.pem`;
    const key = `${dir}/key.pem`;
    await Deno.writeTextFile(cert, "CERT TEXT");
    await Deno.writeTextFile(key, "KEY TEXT");
    const problems: string[] = [];
    assertEquals(await loadTlsFiles(new Map(), problems), undefined);
    assertEquals(problems, []);
    const both = new Map([["DES_TLS_CERT_FILE", cert], ["DES_TLS_KEY_FILE", ` ${key} `]]);
    assertEquals(await loadTlsFiles(both, problems), { cert: "CERT TEXT", key: "KEY TEXT" });
    assertEquals(problems, []);
    assertEquals(await loadTlsFiles(new Map([["DES_TLS_KEY_FILE", key]]), problems), undefined);
    assertEquals(problems, ["DES_TLS_CERT_FILE and DES_TLS_KEY_FILE must be set together"]);
    const missing = new Map([["DES_TLS_CERT_FILE", cert], ["DES_TLS_KEY_FILE", `${dir}/none`]]);
    assertEquals(await loadTlsFiles(missing, problems), undefined);
    assertEquals(problems.length, 2);
    assert(problems[1].startsWith("cannot read the TLS certificate or key"), problems[1]);
    assert(!problems.join("\n").includes("CERT TEXT"), "contents are never echoed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hopTokenOf: unset, valid, and a short one reported without its value", () => {
  const problems: string[] = [];
  assertEquals(hopTokenOf(new Map(), problems), undefined);
  const token = "t".repeat(32);
  assertEquals(hopTokenOf(new Map([["DES_RETRIEVER_TOKEN", ` ${token} `]]), problems), token);
  assertEquals(problems, []);
  assertEquals(hopTokenOf(new Map([["DES_RETRIEVER_TOKEN", "short-secret"]]), problems), undefined);
  assertEquals(problems.length, 1);
  assert(problems[0].includes("DES_RETRIEVER_TOKEN"), problems[0]);
  assert(!problems[0].includes("short-secret"), "the value is never echoed");
});
