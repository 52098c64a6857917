import { assertEquals, assertMatch } from "./_helpers/assert.ts";

const DEMO = new URL("../serve/demo.ts", import.meta.url).pathname;

Deno.test("demo: marks, packs and serves a sample parent system with no services", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-demo-" });
  try {
    const out = await new Deno.Command("deno", {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        DEMO,
        "--check",
        "--port",
        "0",
        "--files",
        "300",
        "--dir",
        dir,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, `${stdout}\n${stderr}`);
    assertMatch(stdout, /marked 251 rows/);
    assertMatch(stdout, /packed 251 files .* into \d+ containers/);
    assertMatch(stdout, /parent rows now: active 50, packed 251/);
    assertEquals(stdout.includes("✗"), false, stdout);
    assertMatch(stdout, /✓ GET .* \(never assigned\) → 404/);
    assertMatch(stdout, /curl -s {2}http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]-[0-9a-z]{13}/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
