/**
 * `pack/main.ts` with a bad configuration stops before writing anything:
 * an unknown parent column, an unset DSN variable or a bad option exit with
 * status 2, an unreachable metadata database with 1, each with a message
 * that names the problem; the metadata database stays unmigrated, the
 * archive and the workdir are not created, and the parent rows are as they
 * were.
 */

import { schemaVersion } from "../db/migrate.ts";
import { assertEquals, assertMatch } from "./_helpers/assert.ts";
import { createParentFixture } from "./_helpers/parent_fixture.ts";
import { createTestDatabase } from "./_helpers/pg.ts";

const MAIN = new URL("../pack/main.ts", import.meta.url).pathname;

async function runPack(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", MAIN, "--once", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test({
  name: "pack main: bad configuration exits with a clear message and writes nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const meta = await createTestDatabase();
    const parent = await createParentFixture({ rows: 20 });
    try {
      const dir = parent.dir;
      const statuses = async () =>
        (await parent.db.query<{ s: string }>(`select state as s from ${parent.table} order by 1`))
          .map((r) => r.s).join(",");
      const before = await statuses();
      const yaml = await Deno.readTextFile(parent.sourcesPath);
      const badColumn = `${dir}/bad-column.yaml`;
      await Deno.writeTextFile(badColumn, yaml.replace("size: byte_size", "size: no_such_col"));
      const env = {
        DES_DATABASE_URL: meta.url,
        DES_S3_ENDPOINT: "",
        DES_STORE_ROOT: `${dir}/store`,
        DES_PACKER_WORKDIR: `${dir}/work`,
        DES_SHARD_BITS: "4",
        [parent.dsnEnv]: parent.url,
      };

      const unknownColumn = await runPack(["--sources", badColumn], env);
      assertEquals(unknownColumn.code, 2, unknownColumn.stderr);
      assertMatch(unknownColumn.stderr, /columns\.size: column "no_such_col" does not exist/);

      const { [parent.dsnEnv]: _, ...withoutDsn } = env;
      const missingEnv = await runPack(["--sources", parent.sourcesPath], withoutDsn);
      assertEquals(missingEnv.code, 2, missingEnv.stderr);
      assertMatch(missingEnv.stderr, new RegExp(`${parent.dsnEnv} \\(dsn_env\\) is not set`));

      const port = freePort();
      const unreachable = await runPack(["--sources", parent.sourcesPath], {
        ...env,
        DES_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/des`,
      });
      assertEquals(unreachable.code, 1, unreachable.stderr);
      assertMatch(unreachable.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));

      const badRange = await runPack(["--sources", parent.sourcesPath, "--range", "3-99"], env);
      assertEquals(badRange.code, 2, badRange.stderr);
      assertMatch(badRange.stderr, /shard range "3-99" goes past the last shard 15/);

      const badFault = await runPack(["--sources", parent.sourcesPath], {
        ...env,
        DES_FAULT_KILL_AT: "shipped:2",
      });
      assertEquals(badFault.code, 2, badFault.stderr);
      assertMatch(badFault.stderr, /DES_FAULT_KILL_AT="shipped:2"/);

      // Nothing was written anywhere.
      assertEquals(await schemaVersion(meta.db), 0);
      for (const path of [`${dir}/store`, `${dir}/work`]) {
        assertEquals(await Deno.stat(path).then(() => true, () => false), false, path);
      }
      assertEquals(await statuses(), before);
    } finally {
      await parent.close();
      await meta.drop();
    }
  },
});
