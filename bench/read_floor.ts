/**
 * The floor of the format benchmark: what a bare Deno process spends to
 * read a tree the way `des pack-dir` must, with nothing else (no checksums,
 * no container, no index): the same walk (sorted directory listings), then
 * per file `lstat`, open, one read into a reused buffer, close.
 *
 * Run: `deno run --allow-read bench/read_floor.ts <dir>`; prints the number
 * of files and bytes read.
 *
 * @module
 */

/** Read every regular file under `root` once; returns the files and bytes read. */
export function readFloor(root: string): { files: number; bytes: number } {
  const state = { buffer: new Uint8Array(1024 * 1024), files: 0, bytes: 0 };
  readDir(root, state);
  return { files: state.files, bytes: state.bytes };
}

function readDir(dir: string, state: { buffer: Uint8Array; files: number; bytes: number }): void {
  const entries = [...Deno.readDirSync(dir)].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) readDir(path, state);
    if (!entry.isFile) continue;
    const size = Deno.lstatSync(path).size;
    if (size >= state.buffer.byteLength) state.buffer = new Uint8Array(2 * size);
    const file = Deno.openSync(path);
    try {
      state.bytes += file.readSync(state.buffer) ?? 0;
    } finally {
      file.close();
    }
    state.files++;
  }
}

if (import.meta.main) {
  const { files, bytes } = readFloor(Deno.args[0]);
  console.log(`${files} files, ${bytes} bytes`);
}
