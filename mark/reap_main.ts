/**
 * `deno task reap [--once | --interval 60s] [--sources configs/sources.yaml]`:
 * the parent deletion rule alone (see {@linkcode reapCommand}).
 *
 * @module
 */

import { reapCommand, reportMarkError } from "./main.ts";

if (import.meta.main) {
  let code: number;
  try {
    code = await reapCommand(Deno.args);
  } catch (e) {
    code = reportMarkError(e, "reap");
  }
  Deno.exit(code);
}
