/**
 * Single-file builds of the DES entry points.
 *
 * - `deno task bundle [NAME…] [--out DIR] [--reuse-fresh] [--no-smoke]` runs `deno bundle` for
 *   each entry point into `DIR/des-<name>.js` (the CLI: `DIR/des.js`; default `dist/`): one
 *   file that runs with `deno run -A --unstable-kv dist/des-<name>.js …` and needs nothing else
 *   (no checkout, no `node_modules`, no npm cache). Next to the bundles go the three files
 *   PGlite loads at run time, needed only for `embedded:` database URLs. Each new bundle is
 *   started once with `--help` from an empty `DENO_DIR` with `--cached-only`, which proves that
 *   its entry really runs and that it imports nothing from outside the file.
 * - `deno task compile [NAME…] [--out DIR]` runs `deno compile` for the gateway and the
 *   retriever into `DIR/des-<name>`. That needs the `denort` runtime of this Deno version: a
 *   download from dl.deno.land, a copy in `$DENO_DIR/dl/release/`, or `DENORT_BIN`. Without one
 *   the task says so and exits 1.
 *
 * Failures exit 1 (2 for bad arguments) with one message naming the step and the cause.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DesConfigError, DesError, DesUnavailableError } from "../core/errors.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** An entry point that ships as `des-<name>`. */
export interface BundleEntry {
  /** Short name, as given on the command line. */
  name: string;
  /** Output base name: the bundle is `<file>.js`, the compiled binary `<file>`. */
  file: string;
  /** Module path relative to the repository root. */
  entry: string;
}

/** Every entry point `deno task bundle` builds, in build order. */
export const BUNDLE_ENTRIES: readonly BundleEntry[] = [
  { name: "gateway", file: "des-gateway", entry: "gateway/main.ts" },
  { name: "retriever", file: "des-retriever", entry: "retriever/main.ts" },
  { name: "mark", file: "des-mark", entry: "mark/main.ts" },
  { name: "pack", file: "des-pack", entry: "pack/main.ts" },
  { name: "des", file: "des", entry: "cli/des.ts" },
];

/** The entry points `deno task compile` builds. */
export const COMPILE_NAMES: readonly string[] = ["gateway", "retriever"];

/**
 * Files PGlite reads relative to its own module (`new URL("./pglite.wasm", import.meta.url)`):
 * in a bundle that is the bundle's directory, so they are copied there.
 */
export const PGLITE_ASSETS: readonly string[] = ["pglite.wasm", "initdb.wasm", "pglite.data"];

/** Default output directory (git-ignored). */
export const DIST_DIR = `${ROOT}/dist`;

/**
 * `deno bundle` flags. `--keep-names` because esbuild renames clashing top-level names and
 * `DesError` takes its `name` from `new.target.name`.
 */
export const BUNDLE_FLAGS: readonly string[] = ["--platform=deno", "--keep-names"];

/** `deno compile` flags: the permissions and unstable APIs the services run with. */
export const COMPILE_FLAGS: readonly string[] = ["-A", "--unstable-kv"];

/** Source trees whose changes make a bundle stale (everything an entry point can import). */
const SOURCE_SKIP = new Set([
  ".git",
  ".des",
  "node_modules",
  "dist",
  "cov",
  "tests",
  "docs",
  "deploy",
  "bench",
]);
const SOURCE_EXTENSIONS = /\.(ts|js|sql|json|lock)$/;

/** One output file. */
export interface BuiltFile {
  /** Entry name, or the asset's file name. */
  name: string;
  /** Absolute path. */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** True when an existing, up-to-date file was kept. */
  reused: boolean;
}

/** Options of {@linkcode buildBundles}. */
export interface BundleOptions {
  /** Output directory (default {@linkcode DIST_DIR}). */
  outDir?: string;
  /** Keep a bundle that is newer than every source file (default false: always rebuild). */
  reuseFresh?: boolean;
  /** Start each new bundle with `--help` to prove it runs (default true). */
  smoke?: boolean;
}

/** What `deno` printed and how it ended. */
interface DenoRun {
  code: number;
  output: string;
}

async function runDeno(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; command?: string } = {},
): Promise<DenoRun> {
  const out = await new Deno.Command(options.command ?? Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(300_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, output: text };
}

/** `deno`'s own output without progress lines and backtrace stubs. */
function errorText(output: string): string {
  const noise = /^(⚠️|Download |Check |Compile |Bundled |Stack backtrace:|\s+\d+: <unknown>)/;
  return output.split("\n").filter((l) => l.trim() !== "" && !noise.test(l)).join("\n");
}

/** The entry named `name`, or `DesConfigError`. */
export function entryNamed(name: string): BundleEntry {
  const entry = BUNDLE_ENTRIES.find((e) => e.name === name);
  if (!entry) {
    throw new DesConfigError(
      `unknown entry point "${name}": expected one of ${BUNDLE_ENTRIES.map((e) => e.name)}`,
      { name },
    );
  }
  return entry;
}

/** Newest modification time (ms) of any source file a bundle can contain. */
export async function newestSourceTime(root: string = ROOT): Promise<number> {
  let newest = 0;
  const walk = async (dir: string): Promise<void> => {
    for await (const item of Deno.readDir(dir)) {
      const path = `${dir}/${item.name}`;
      if (item.isDirectory && !SOURCE_SKIP.has(item.name)) await walk(path);
      else if (item.isFile && SOURCE_EXTENSIONS.test(item.name)) {
        newest = Math.max(newest, (await Deno.stat(path)).mtime?.getTime() ?? Infinity);
      }
    }
  };
  await walk(root);
  return newest;
}

async function sizeIfNewer(path: string, than: number): Promise<number | undefined> {
  try {
    const info = await Deno.stat(path);
    return (info.mtime?.getTime() ?? 0) > than ? info.size : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Bundle one entry point into `outDir/<file>.js` (written aside, then renamed). */
export async function bundleEntry(entry: BundleEntry, outDir: string): Promise<BuiltFile> {
  const path = `${outDir}/${entry.file}.js`;
  const partial = `${outDir}/.${entry.file}.${Deno.pid}.partial.js`;
  const run = await runDeno([
    "bundle",
    ...BUNDLE_FLAGS,
    `--config=${ROOT}/deno.json`,
    `--output=${partial}`,
    `${ROOT}/${entry.entry}`,
  ]);
  if (run.code !== 0) {
    await Deno.remove(partial).catch(() => {});
    const missingEsbuild = /@esbuild\//.test(run.output)
      ? "\n(deno bundle runs esbuild from the npm package @esbuild/<platform> mapped in " +
        "deno.json: run `deno install`; after a Deno upgrade, map the esbuild version that " +
        "Deno asks for)"
      : "";
    throw new DesError(
      `deno bundle ${entry.entry} failed (exit ${run.code}):\n${
        errorText(run.output)
      }${missingEsbuild}`,
      { code: "build.bundle-failed", context: { entry: entry.entry, exitCode: run.code } },
    );
  }
  await Deno.rename(partial, path);
  return { name: entry.name, path, bytes: (await Deno.stat(path)).size, reused: false };
}

/** The directory of the installed PGlite package (needs a `node_modules` directory). */
export function pgliteDistDir(): string {
  const resolved = import.meta.resolve("@electric-sql/pglite");
  if (!resolved.startsWith("file:")) {
    throw new DesConfigError(
      `PGlite resolves to ${resolved}, not a file: run \`deno install\` ` +
        '(deno.json keeps npm packages in node_modules with "nodeModulesDir": "auto")',
      { resolved },
    );
  }
  return new URL(".", resolved).pathname.replace(/\/$/, "");
}

/** Copy {@linkcode PGLITE_ASSETS} into `outDir`, keeping copies that already match in size. */
export async function copyPgliteAssets(outDir: string): Promise<BuiltFile[]> {
  const from = pgliteDistDir();
  const out: BuiltFile[] = [];
  for (const name of PGLITE_ASSETS) {
    const source = await Deno.stat(`${from}/${name}`);
    const path = `${outDir}/${name}`;
    const existing = await Deno.stat(path).catch(() => undefined);
    const reused = existing?.size === source.size;
    if (!reused) {
      const partial = `${outDir}/.${name}.${Deno.pid}.partial`;
      await Deno.copyFile(`${from}/${name}`, partial);
      await Deno.rename(partial, path);
    }
    out.push({ name, path, bytes: source.size, reused });
  }
  return out;
}

/**
 * Run `bundle --help` from an empty `DENO_DIR` with `--cached-only` and no config: it must print
 * its usage line. Fails when the entry does not run in a bundle or imports anything remote.
 */
export async function smokeRun(bundle: string): Promise<void> {
  const scratch = await Deno.makeTempDir({ prefix: "des-bundle-smoke-" });
  try {
    const run = await runDeno(
      ["run", "--cached-only", "--no-config", "-A", "--unstable-kv", bundle, "--help"],
      { cwd: scratch, env: { DENO_DIR: `${scratch}/deno-dir` } },
    );
    if (!/^usage: /m.test(run.output)) {
      throw new DesError(
        `${bundle} does not run on its own: \`--help\` printed no usage (exit ${run.code}):\n${
          errorText(run.output) || "(nothing)"
        }`,
        { code: "build.smoke-failed", context: { bundle, exitCode: run.code } },
      );
    }
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

/** Build (or, with `reuseFresh`, keep) the bundles of `names` and the PGlite files next to them. */
export async function buildBundles(
  names: readonly string[] = BUNDLE_ENTRIES.map((e) => e.name),
  options: BundleOptions = {},
): Promise<BuiltFile[]> {
  const entries = names.map(entryNamed);
  const outDir = options.outDir ?? DIST_DIR;
  await Deno.mkdir(outDir, { recursive: true });
  const sourcesTime = options.reuseFresh ? await newestSourceTime() : Infinity;
  const built: BuiltFile[] = [];
  for (const entry of entries) {
    const path = `${outDir}/${entry.file}.js`;
    const freshSize = await sizeIfNewer(path, sourcesTime);
    if (freshSize !== undefined) {
      built.push({ name: entry.name, path, bytes: freshSize, reused: true });
      continue;
    }
    const file = await bundleEntry(entry, outDir);
    if (options.smoke ?? true) await smokeRun(file.path);
    built.push(file);
  }
  return [...built, ...await copyPgliteAssets(outDir)];
}

/** Where `deno compile` looks for a downloaded runtime before fetching it. */
async function denortCachePath(): Promise<{ url: string; cached: string }> {
  const file = `denort-${Deno.build.target}.zip`;
  const release = `release/v${Deno.version.deno}/${file}`;
  const info = await runDeno(["info", "--json"]);
  const denoDir = info.code === 0 ? JSON.parse(info.output).denoDir : "$DENO_DIR";
  return { url: `https://dl.deno.land/${release}`, cached: `${denoDir}/dl/${release}` };
}

/** `deno compile` one entry point into `outDir/<file>` and check that it starts. */
export async function compileEntry(entry: BundleEntry, outDir: string): Promise<BuiltFile> {
  const path = `${outDir}/${entry.file}`;
  const denort = Deno.env.get("DENORT_BIN");
  if (denort && !(await Deno.stat(denort).catch(() => undefined))?.isFile) {
    throw new DesConfigError(`DENORT_BIN=${denort} is not a file`, { DENORT_BIN: denort });
  }
  const run = await runDeno([
    "compile",
    ...COMPILE_FLAGS,
    `--config=${ROOT}/deno.json`,
    `--output=${path}`,
    `${ROOT}/${entry.entry}`,
  ]);
  if (run.code !== 0) {
    // The runtime step (download or DENORT_BIN) comes after type checking and bundling.
    if (/Writing deno compile executable|denort|dl\.deno\.land/i.test(run.output)) {
      const { url, cached } = await denortCachePath();
      const cause = errorText(run.output).split("\n").at(-1)?.replace(/^\s*\d+: /, "") ?? "";
      throw new DesUnavailableError(
        `deno compile needs the Deno ${Deno.version.deno} runtime (denort) and could not get it` +
          `${denort ? ` from DENORT_BIN=${denort}` : ""}.\n` +
          `  cause: ${cause.trim()}\n` +
          `  fix, where the network allows: run \`deno task compile\` there, or download\n` +
          `    ${url}\n` +
          `  and either copy the zip to ${cached}\n` +
          `  or unzip it and set DENORT_BIN=/path/to/denort, then run \`deno task compile\` again.\n` +
          "  Without it, ship the bundles: `deno task bundle` (see docs/deployment.md).",
        { entry: entry.entry, url, cached, DENORT_BIN: denort ?? null },
      );
    }
    throw new DesError(
      `deno compile ${entry.entry} failed (exit ${run.code}):\n${errorText(run.output)}`,
      { code: "build.compile-failed", context: { entry: entry.entry, exitCode: run.code } },
    );
  }
  const started = await runDeno(["--help"], { command: path });
  if (!/^usage: /m.test(started.output)) {
    await Deno.remove(path).catch(() => {});
    const printed = errorText(started.output).split("\n").slice(0, 3).join("\n");
    throw new DesError(
      `the binary built for ${entry.entry} does not run it (is DENORT_BIN a denort binary of ` +
        `Deno ${Deno.version.deno}, not the deno CLI?); \`--help\` printed:\n${printed}`,
      { code: "build.smoke-failed", context: { binary: path, DENORT_BIN: denort ?? null } },
    );
  }
  return { name: entry.name, path, bytes: (await Deno.stat(path)).size, reused: false };
}

/** `deno compile` every entry of `names` (default {@linkcode COMPILE_NAMES}). */
export async function compileBinaries(
  names: readonly string[] = COMPILE_NAMES,
  outDir: string = DIST_DIR,
): Promise<BuiltFile[]> {
  const entries = names.map(entryNamed);
  await Deno.mkdir(outDir, { recursive: true });
  const built: BuiltFile[] = [];
  for (const entry of entries) built.push(await compileEntry(entry, outDir));
  return built;
}

function formatSize(bytes: number): string {
  return bytes >= 1 << 20
    ? `${(bytes / (1 << 20)).toFixed(2)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

function report(files: readonly BuiltFile[]): void {
  const shown = files.map((f) =>
    f.path.startsWith(`${ROOT}/`) ? f.path.slice(ROOT.length + 1) : f.path
  );
  const width = Math.max(...shown.map((s) => s.length));
  files.forEach((f, i) => {
    const kept = f.reused ? "  (kept)" : "";
    const note = PGLITE_ASSETS.includes(f.name) ? "  (embedded: database only)" : "";
    console.log(`${shown[i].padEnd(width)} ${formatSize(f.bytes).padStart(10)}${kept}${note}`);
  });
}

const USAGE = "usage: deno task bundle [NAME…] [--out DIR] [--reuse-fresh] [--no-smoke]\n" +
  "       deno task compile [NAME…] [--out DIR]\n" +
  `NAME: ${BUNDLE_ENTRIES.map((e) => e.name).join(", ")} (compile default: ${COMPILE_NAMES})`;

/** Run the build described by `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        compile: { type: "boolean", default: false },
        out: { type: "string" },
        "reuse-fresh": { type: "boolean", default: false },
        "no-smoke": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const task = values.compile ? "compile" : "bundle";
  const outDir = values.out ?? DIST_DIR;
  try {
    const files = values.compile
      ? await compileBinaries(positionals.length ? positionals : COMPILE_NAMES, outDir)
      : await buildBundles(positionals.length ? positionals : undefined, {
        outDir,
        reuseFresh: values["reuse-fresh"],
        smoke: !values["no-smoke"],
      });
    report(files);
    return 0;
  } catch (error) {
    if (!(error instanceof DesError)) throw error;
    console.error(`des ${task}: ${error.message}`);
    return error instanceof DesConfigError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
