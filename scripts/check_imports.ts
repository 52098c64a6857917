/**
 * `deno run -A scripts/check_imports.ts [root]`: fails (exit 1) when the
 * top-level folders of the repository import each other in a cycle, e.g.
 * `format/` → `store/` → `format/`. The module graph comes from
 * `deno info --json` (Deno's own parser: static, type-only and dynamic
 * imports, nothing in comments), folded into one node per top-level folder;
 * every strongly connected set of two or more folders is a cycle and is
 * printed with one import that closes it. Files at the root (`mod.ts`) form
 * the node `.`. Imports made by `tests/` are not counted: the tests sit on
 * top of everything and may import any folder, the benchmarks included
 * (which reuse the tests' fixtures).
 *
 * @module
 */

import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Folders whose own imports are not counted (they sit on top of everything). */
const TOP_FOLDERS = new Set(["tests"]);

/** Directories never scanned. */
const SKIPPED = new Set(["node_modules", ".git", ".des", "dist", "cov", "fixtures"]);

/** One import between two different top-level folders. */
export interface FolderEdge {
  /** Importing file, relative to the root. */
  from: string;
  /** Imported file, relative to the root. */
  to: string;
}

/** Every `.ts` file under `root`, relative and sorted. */
export function sourceFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (SKIPPED.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.isFile && /\.tsx?$/.test(entry.name)) found.push(relative(root, path));
    }
  };
  walk(root);
  return found.sort();
}

/** The top-level folder of a root-relative path (`.` for files at the root). */
export function folderOf(path: string): string {
  const at = path.indexOf(sep);
  return at < 0 ? "." : path.slice(0, at);
}

interface InfoDependency {
  code?: { specifier?: string };
  type?: { specifier?: string };
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

/** Imports between files of `root` whose top-level folders differ, read with `deno info`. */
export async function folderEdges(root: string, files: string[]): Promise<FolderEdge[]> {
  const entry = join(await Deno.makeTempDir({ prefix: "des-imports-" }), "all.ts");
  try {
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import ${JSON.stringify(pathToFileURL(join(root, f)).href)};\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) throw new Error("deno info failed");
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
    const local = (specifier: string | undefined): string | undefined => {
      if (!specifier?.startsWith("file:")) return undefined;
      const path = relative(root, fileURLToPath(specifier));
      return path.startsWith("..") ? undefined : path;
    };
    const edges: FolderEdge[] = [];
    for (const module of graph.modules) {
      const from = local(module.specifier);
      if (from === undefined || TOP_FOLDERS.has(folderOf(from))) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
          const to = local(target);
          if (to !== undefined && folderOf(to) !== folderOf(from)) edges.push({ from, to });
        }
      }
    }
    return edges;
  } finally {
    await Deno.remove(join(entry, ".."), { recursive: true });
  }
}

/**
 * The cycles among folders: each strongly connected set of two or more
 * folders (Tarjan), sorted, with the edges that stay inside it.
 */
export function folderCycles(edges: FolderEdge[]): { folders: string[]; edges: FolderEdge[] }[] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    const a = folderOf(from), b = folderOf(to);
    if (!next.has(a)) next.set(a, new Set());
    if (!next.has(b)) next.set(b, new Set());
    next.get(a)!.add(b);
  }
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node)!) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) components.push(component.sort());
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((folders) => ({
    folders,
    edges: edges.filter(({ from, to }) =>
      folders.includes(folderOf(from)) && folders.includes(folderOf(to))
    ),
  }));
}

if (import.meta.main) {
  const root = resolve(Deno.args[0] ?? ".");
  const files = sourceFiles(root);
  const cycles = folderCycles(await folderEdges(root, files));
  for (const cycle of cycles) {
    console.error(`import cycle between folders: ${cycle.folders.join(", ")}`);
    const shown = new Set<string>();
    for (const { from, to } of cycle.edges) {
      const pair = `${folderOf(from)} -> ${folderOf(to)}`;
      if (shown.has(pair)) continue;
      shown.add(pair);
      console.error(`  ${pair}: ${from} imports ${to}`);
    }
  }
  if (cycles.length > 0) Deno.exit(1);
  console.log(`no import cycles between top-level folders (${files.length} files)`);
}
