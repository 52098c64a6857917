import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./_helpers/assert.ts";
import { removeTestS3Store, s3TestIgnore, testS3Store, withTestS3Env } from "./_helpers/s3.ts";
import { parseCliRange } from "../cli/commands/cat.ts";
import { DesInputError } from "../core/errors.ts";
import { assertThrows } from "./_helpers/assert.ts";

const CLI = new URL("../cli/des.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

async function des(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command("deno", {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A small tree with nested dirs, unicode names, an empty file and a big file. */
async function makeSampleTree(): Promise<{ root: string; files: Map<string, Uint8Array> }> {
  const root = await Deno.makeTempDir({ prefix: "des-cli-tree-" });
  const files = new Map<string, Uint8Array>();
  const add = async (name: string, bytes: Uint8Array) => {
    await Deno.mkdir(join(root, name, ".."), { recursive: true });
    await Deno.writeFile(join(root, name), bytes);
    files.set(name, bytes);
  };
  for (let i = 0; i < 50; i++) {
    const b = new Uint8Array(100 + i * 37);
    crypto.getRandomValues(b);
    await add(`dir${i % 5}/file-${i}.bin`, b);
  }
  await add("empty.txt", new Uint8Array(0));
  await add("zażółć gęślą jaźń.txt", new TextEncoder().encode("unicode ✓\n"));
  const big = new Uint8Array(300_000);
  crypto.getRandomValues(big.subarray(0, 65536));
  await add("big/large.dat", big);
  await Deno.symlink(join(root, "empty.txt"), join(root, "link-to-empty"));
  return { root, files };
}

async function checkContainer(location: string, files: Map<string, Uint8Array>, env = {}) {
  const verify = await des(["verify", location], env);
  assertEquals(verify.code, 0, verify.stderr);
  const ls = await des(["ls", location, "--json"], env);
  assertEquals(ls.code, 0, ls.stderr);
  const rows = JSON.parse(text(ls.stdout)) as { name: string; size: number; external: boolean }[];
  assertEquals(rows.map((r) => r.name).sort(), [...files.keys()].sort());
  assert(rows.find((r) => r.name === "big/large.dat")!.external, "big file stored externally");
  for (const name of ["empty.txt", "zażółć gęślą jaźń.txt", "dir3/file-8.bin", "big/large.dat"]) {
    const cat = await des(["cat", location, name], env);
    assertEquals(cat.code, 0, cat.stderr);
    assertEquals(cat.stdout, files.get(name), `cat ${name}`);
  }
  const ranged = await des(["cat", location, "dir3/file-8.bin", "--range", "10-19"], env);
  assertEquals(ranged.stdout, files.get("dir3/file-8.bin")!.subarray(10, 20));
  const inspect = await des(["inspect", location, "--json"], env);
  assertEquals(inspect.code, 0, inspect.stderr);
  const report = JSON.parse(text(inspect.stdout));
  assertEquals(report.files, files.size);
  assertEquals(report.externalFiles, 1);
}

Deno.test("cli: pack-dir to a local path, then verify, ls, cat and inspect", async () => {
  const { root, files } = await makeSampleTree();
  const out = await Deno.makeTempDir({ prefix: "des-cli-out-" });
  try {
    const location = join(out, "sample.des");
    const pack = await des(["pack-dir", root, "-o", location, "--big-file-threshold", "256KiB"]);
    assertEquals(pack.code, 0, pack.stderr);
    assertMatch(text(pack.stdout), /53 files.*1 big files.*1 non-regular entries skipped/);
    await checkContainer(location, files);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cli: one flipped data byte fails verify naming the file, and cat of it", async () => {
  const { root, files } = await makeSampleTree();
  const out = await Deno.makeTempDir({ prefix: "des-cli-bad-" });
  try {
    const location = join(out, "bad.des");
    assertEquals((await des(["pack-dir", root, "-o", location])).code, 0);
    const bytes = await Deno.readFile(location);
    const victim = files.get("dir2/file-7.bin")!;
    const at = indexOf(bytes, victim);
    assert(at > 0, "file bytes found in the container");
    bytes[at + 5] ^= 0x40;
    await Deno.writeFile(location, bytes);
    const verify = await des(["verify", location]);
    assertEquals(verify.code, 1);
    assertMatch(verify.stderr, /BAD: dir2\/file-7\.bin: crc32c mismatch/);
    const cat = await des(["cat", location, "dir2/file-7.bin"]);
    assertEquals(cat.code, 1);
    assertEquals(cat.stdout.byteLength, 0, "no damaged bytes are written");
    assertMatch(cat.stderr, /mismatch.*dir2\/file-7\.bin/);
    const other = await des(["cat", location, "dir2/file-2.bin"]);
    assertEquals(other.code, 0);
    assertEquals(other.stdout, files.get("dir2/file-2.bin"));
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cli: bad arguments and missing files give a clear message and exit code", async () => {
  const r1 = await des(["cat"]);
  assertEquals(r1.code, 2);
  assertMatch(r1.stderr, /usage: des cat/);
  const r2 = await des(["verify", "/nonexistent/x.des"]);
  assertEquals(r2.code, 1);
  assertMatch(r2.stderr, /des verify: .*x\.des/);
  const r3 = await des(["frobnicate"]);
  assertEquals(r3.code, 2);
  const notContainer = await Deno.makeTempFile();
  await Deno.writeTextFile(notContainer, "hello, not a container at all".repeat(10));
  const r4 = await des(["ls", notContainer]);
  assertEquals(r4.code, 1);
  assertMatch(r4.stderr, /des ls: /);
  await Deno.remove(notContainer);
});

Deno.test("cli: --range parsing", () => {
  assertEquals(parseCliRange("0-0", 10), { offset: 0, length: 1 });
  assertEquals(parseCliRange("5-", 10), { offset: 5, length: 5 });
  assertEquals(parseCliRange("-3", 10), { offset: 7, length: 3 });
  assertEquals(parseCliRange("8-100", 10), { offset: 8, length: 2 });
  assertThrows(() => parseCliRange("10-12", 10), DesInputError);
  assertThrows(() => parseCliRange("5-2", 10), DesInputError);
  assertThrows(() => parseCliRange("x", 10), DesInputError);
});

Deno.test({
  name: "cli: pack-dir to s3:// and read back",
  ignore: s3TestIgnore(),
  fn: async () => {
    const { root, files } = await makeSampleTree();
    const store = await testS3Store("cli");
    const env = withTestS3Env();
    try {
      const location = `s3://${store.bucket}/archive/sample.des`;
      const pack = await des(
        ["pack-dir", root, "-o", location, "--big-file-threshold", "256KiB"],
        env,
      );
      assertEquals(pack.code, 0, pack.stderr);
      await checkContainer(location, files, env);
      const keys = [];
      for await (const o of store.list("archive/")) keys.push(o.key);
      assertEquals(keys.length, 2, `container + one big file: ${keys.join(", ")}`);
      assert(keys.some((k) => k.startsWith("archive/_bigFiles/")));
    } finally {
      await Deno.remove(root, { recursive: true });
      await removeTestS3Store(store);
    }
  },
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
