/**
 * `des pack-dir`'s reading pipeline: the same container whatever the number
 * of reader workers and the batch size (names, bytes, checksums, metadata),
 * also when batches exceed a sink chunk and their buffers are reused,
 * batches handed out in order, a file that vanished after the walk is a clear
 * `DesInputError` that leaves no container, a file replaced by a symlink is
 * skipped, and a local output never loads the S3 client.
 */

import { join } from "node:path";
import { DesInputError } from "../core/errors.ts";
import { DesReader, FileRangeSource } from "../format/mod.ts";
import { packDirectory, walkNames } from "../cli/commands/pack_dir.ts";
import { ReaderPool, type ReaderPoolOptions } from "../cli/commands/pack_dir_pool.ts";
import { FileStatus } from "../cli/commands/pack_dir_read.ts";
import { assert, assertEquals, assertRejects } from "./_helpers/assert.ts";

async function tree(
  count: number,
  size: (i: number) => number = (i) => (i * 131) % 3000,
): Promise<{ root: string; files: Map<string, Uint8Array> }> {
  const root = await Deno.makeTempDir({ prefix: "des-pack-dir-test-" });
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const name = `d${i % 7}/sub${i % 3}/f-${i}.bin`;
    const bytes = new Uint8Array(size(i));
    for (let at = 0; at < bytes.length; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    await Deno.mkdir(join(root, name, ".."), { recursive: true });
    await Deno.writeFile(join(root, name), bytes);
    files.set(name, bytes);
  }
  return { root, files };
}

/** Everything a reader sees of each file, except the recorded original location's root. */
async function contents(path: string) {
  const source = await FileRangeSource.open(path);
  try {
    const reader = await DesReader.open(source);
    const out = [];
    for (const entry of reader.entries()) {
      const meta = reader.meta(entry);
      out.push({
        name: entry.name,
        size: entry.size,
        crc32c: entry.crc32c,
        sha256: [...entry.sha256].join(","),
        meta: { ...meta, originalLocation: undefined },
        bytes: [...await reader.readFile(entry)].join(","),
      });
    }
    return out;
  } finally {
    source.close();
  }
}

/**
 * Pack the tree once per reader setting: every container holds exactly the
 * tree's files and bytes, and all of them read the same.
 */
async function packedAlike(
  tree: { root: string; files: Map<string, Uint8Array> },
  runs: ReaderPoolOptions[],
): Promise<void> {
  const { root, files } = tree;
  const out = await Deno.makeTempDir({ prefix: "des-pack-dir-out-" });
  try {
    const seen = [];
    for (const [i, readers] of runs.entries()) {
      const path = join(out, `c${i}.des`);
      const result = await packDirectory(root, path, { readers });
      assertEquals(result.files, files.size);
      const listed = await contents(path);
      assertEquals(listed.map((f) => f.name), [...files.keys()].sort());
      for (const f of listed) {
        assertEquals(f.bytes, [...files.get(f.name)!].join(","), f.name);
      }
      seen.push(listed);
    }
    for (const listed of seen.slice(1)) assertEquals(listed, seen[0]);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
}

Deno.test("pack-dir: workers or not, any batch size, the same container contents", async () => {
  await packedAlike(await tree(300), [
    { workers: 0, batchFiles: 256 },
    { workers: 1, batchFiles: 7 },
    { workers: 3, batchFiles: 1 },
  ]);
});

Deno.test("pack-dir: batches over a sink chunk, buffers reused, the same container contents", async () => {
  // 100 KiB files: a batch of 32 is 3.2 MiB, written in runs under 1 MiB whose buffer is
  // then read into again; one 1.5 MiB file is a run of its own, handed to the sink as is.
  const files = await tree(90, (i) => (i === 40 ? 1536 * 1024 : 100 * 1024 + i));
  await packedAlike(files, [{ workers: 0, batchFiles: 32 }, { workers: 1, batchFiles: 32 }]);
});

Deno.test("pack-dir walk: lazily, the names in the order of a sort of the full names", async () => {
  const root = await Deno.makeTempDir({ prefix: "des-pack-dir-walk-" });
  try {
    // "a.b" sorts before "a/x" ('.' < '/'), "a-" before both, "a0" after
    const names = ["a/x", "a.b", "a-", "a0", "a/y/z", "a/y.t", "b", "a/x.d/q", "é/1", "Z"];
    for (const name of names) {
      await Deno.mkdir(join(root, name, ".."), { recursive: true });
      await Deno.writeFile(join(root, name), new Uint8Array(1));
    }
    await Deno.symlink(join(root, "b"), join(root, "a", "link"));
    const { names: walked, skipped } = walkNames(root);
    assertEquals(walked, [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    assertEquals(skipped, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("pack-dir reader pool: batches come back in order with the bytes of each file", async () => {
  const { root, files } = await tree(100);
  const pool = new ReaderPool({ workers: 2, batchFiles: 3, depth: 3 });
  try {
    const { names } = walkNames(root);
    let id = 0, at = 0;
    for await (const batch of pool.read(root, names, 2000)) {
      assertEquals(batch.id, id++);
      let offset = 0;
      for (let i = 0; i < batch.status.length; i++) {
        const expected = files.get(names[at++])!;
        if (expected.byteLength > 2000) {
          assertEquals(batch.status[i], FileStatus.big);
          continue;
        }
        assertEquals(batch.status[i], FileStatus.read);
        assertEquals(batch.data.subarray(offset, offset + batch.sizes[i]), expected);
        offset += batch.sizes[i];
      }
    }
    assertEquals(at, names.length);
    assert(pool.workers === 2, "two workers started");
  } finally {
    pool.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("pack-dir reader: a file gone after the walk is reported, a symlink is skipped", async () => {
  const { root } = await tree(20);
  try {
    const { names } = walkNames(root);
    await Deno.remove(join(root, names[5]));
    await Deno.symlink(join(root, names[0]), join(root, names[5]));
    await Deno.remove(join(root, names[9]));
    for (const workers of [0, 1]) {
      const pool = new ReaderPool({ workers, batchFiles: 4 });
      try {
        const batches = [];
        for await (const batch of pool.read(root, names, 1 << 20)) batches.push(batch);
        assertEquals(batches[1].status[1], FileStatus.skipped, "symlink in place of a file");
        assertEquals(batches[2].error?.name, names[9]);
        assertEquals(batches[0].error, undefined);
      } finally {
        pool.close();
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("pack-dir: an unreadable tree is a DesInputError and leaves no container", async () => {
  const out = await Deno.makeTempDir({ prefix: "des-pack-dir-out-" });
  try {
    await assertRejects(
      () => packDirectory(join(out, "missing"), join(out, "c.des")),
      DesInputError,
    );
    assertEquals([...Deno.readDirSync(out)].length, 0);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("des pack-dir to a local path does not load the S3 client", async () => {
  // What `des pack-dir` loads before it looks at its output: the static import
  // closure of the CLI entry and of the command (dynamic imports load on use).
  const graph = async (file: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", new URL(file, import.meta.url).pathname],
      stdout: "piped",
    }).output();
    return JSON.parse(new TextDecoder().decode(out.stdout)) as {
      roots: string[];
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
      }[];
    };
  };
  for (const entry of ["../cli/des.ts", "../cli/commands/pack_dir.ts"]) {
    const { roots, modules } = await graph(entry);
    const bySpecifier = new Map(modules.map((m) => [m.specifier, m]));
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length > 0) {
      const specifier = stack.pop()!;
      if (seen.has(specifier)) continue;
      seen.add(specifier);
      for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
        if (!dep.isDynamic && dep.code) stack.push(dep.code.specifier);
      }
    }
    const s3 = [...seen].filter((s) => s.endsWith("/store/s3.ts") || s.includes("aws-sdk"));
    assertEquals(s3, [], `${entry} loads the S3 client up front`);
  }
});
