import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { denoCommand } from "../serve/demo_commands.ts";
import { summarize } from "../serve/demo_summary.ts";

const DEMO = new URL("../serve/demo.ts", import.meta.url).pathname;

async function runDemo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("deno", {
    args: ["run", "-A", "--unstable-kv", DEMO, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("demo: marks, packs and serves a sample parent system; the same names every run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-demo-" });
  try {
    const names: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const args = ["--check", "--port", "0", "--files", "300", "--dir", dir];
      const { code, stdout, stderr } = await runDemo(args);
      assertEquals(code, 0, `${stdout}\n${stderr}`);
      assertMatch(stdout, /marked 251 rows/);
      assertMatch(stdout, /packed 251 files .* into \d+ containers/);
      assertMatch(stdout, /parent rows now: active 50, packed 251/);
      assertEquals(stdout.includes("✗"), false, stdout);
      assertMatch(stdout, /✓ GET .* \(never assigned\) → 404/);
      // --check explains and exits: no "try it while this runs" commands.
      assertEquals(stdout.includes("Try it"), false, stdout);
      assertEquals(stdout.includes("curl "), false, stdout);
      assertMatch(stdout, /What just happened/);
      // 250 small files in 16 containers (4 shard bits) plus the 2 MiB scan as its own object.
      assertMatch(
        stdout,
        /archive holds 17 objects \(16 containers, 1 big-file object\) instead of 251/,
      );
      names.push([...stdout.matchAll(/✓ GET ([0-9a-f]-[0-9a-z]{13}) \(\d{4}\//g)].map((m) => m[1]));
    }
    assertEquals(names[0].length, 3, names[0].join(" "));
    // The sample is recreated, yet curl lines from the first run still name the same files.
    assertEquals(names[1], names[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo: a busy port is reported before the sample is built, with --port", async () => {
  const dir = await Deno.makeTempDir({ prefix: "des-demo-" });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const { code, stdout, stderr } = await runDemo(["--port", String(port), "--dir", `${dir}/d`]);
    assertEquals(code, 2, `${stdout}\n${stderr}`);
    assertMatch(stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assertMatch(stderr, /task demo --port \d+/);
    assertEquals(stderr.includes("AddrInUse"), false, stderr);
    assertEquals(stdout.includes("creating a sample"), false, stdout);
    // Nothing was built.
    assertEquals(await Deno.stat(`${dir}/d`).then(() => true, () => false), false);
  } finally {
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo: printed commands start Deno the way the demo was started", () => {
  const files = new Map([
    ["/usr/local/bin/deno", "/opt/deno/deno"],
    ["/opt/deno/deno", "/opt/deno/deno"],
    ["/root/.npm/_npx/1a2b/node_modules/deno/deno", "/root/.npm/_npx/1a2b/node_modules/deno/deno"],
  ]);
  const context = (execPath: string, env: Record<string, string>) => ({
    execPath,
    env: (name: string) => env[name],
    realPath: (path: string) => files.get(path),
  });
  // The deno on PATH is this binary (through a symlink).
  assertEquals(denoCommand(context("/opt/deno/deno", { PATH: "/usr/bin:/usr/local/bin" })), "deno");
  // Started by npx: no deno on PATH.
  const npx = "/root/.npm/_npx/1a2b/node_modules/deno/deno";
  assertEquals(
    denoCommand(context(npx, { PATH: "/usr/bin", npm_command: "exec" })),
    `npx -y deno@${Deno.version.deno}`,
  );
  // npx even when another deno is on PATH: that one is not the one that ran the demo.
  assertEquals(
    denoCommand(context(npx, { PATH: "/usr/local/bin" })),
    `npx -y deno@${Deno.version.deno}`,
  );
  // npx that found a global deno puts it on this process's PATH, not on the user's shell's.
  assertEquals(
    denoCommand(context("/opt/deno/deno", { PATH: "/usr/local/bin", npm_command: "exec" })),
    `npx -y deno@${Deno.version.deno}`,
  );
  // Without read access to PATH (narrow permissions): this binary's own directory on PATH.
  assertEquals(
    denoCommand({
      execPath: "/opt/deno/deno",
      env: (name) => name === "PATH" ? "/usr/bin:/opt/deno" : undefined,
      realPath: () => undefined,
    }),
    "deno",
  );
  // Started from a shell as `deno`, found on PATH through a symlink the demo may not read.
  assertEquals(
    denoCommand({
      execPath: "/usr/lib/node_modules/deno/deno",
      env: (name) => ({ PATH: "/usr/local/bin:/usr/bin", _: "/usr/bin/deno" })[name],
      realPath: () => undefined,
    }),
    "deno",
  );
  // Anything else: the full path.
  assertEquals(denoCommand(context("/home/a b/deno", { PATH: "/usr/bin" })), "'/home/a b/deno'");
});

Deno.test("demo: the summary states the object count saved", () => {
  const text = summarize({
    rows: 3001,
    marked: 2501,
    packedFiles: 2501,
    packedBytes: 12_345_678,
    containers: 16,
    objects: 17,
    statuses: { active: 500, packed: 2501 },
  });
  assertMatch(text, /2501 rows older than 30 days got a DES name/);
  assertMatch(text, /the 500 younger rows stay active/);
  assertMatch(text, /17 objects \(16 containers, 1 big-file object\) instead of 2501 files/);
  assertMatch(text, /147× fewer objects/);
  assert(!text.includes("NaN"));
});
