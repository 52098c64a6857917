/**
 * Generates benchmark input: a directory tree of many small files with
 * incompressible content, spread over sub-directories like a real archive.
 *
 * @module
 */

import { join } from "node:path";

/**
 * Create `count` files of `size` bytes under `root` (100 per directory).
 * Returns the relative names in creation order.
 */
export async function makeTree(root: string, count: number, size: number): Promise<string[]> {
  const names: string[] = [];
  const block = new Uint8Array(size);
  for (let i = 0; i < count; i++) {
    const dir = `d${String(Math.floor(i / 100)).padStart(4, "0")}`;
    if (i % 100 === 0) await Deno.mkdir(join(root, dir), { recursive: true });
    crypto.getRandomValues(block.subarray(0, Math.min(size, 65536)));
    const name = `${dir}/f${String(i).padStart(7, "0")}.bin`;
    await Deno.writeFile(join(root, name), block);
    names.push(name);
  }
  return names;
}
