/**
 * `deno task serve`: marker, packer, retriever and gateway in one process.
 *
 * ```
 * deno task serve [--port 8080] [--host 127.0.0.1] [--sources configs/sources.yaml]
 *                 [--mark-interval 60s] [--pack-interval 60s]
 * ```
 *
 * @module
 */

import { SERVE_USAGE } from "./usage.ts";
export { SERVE_USAGE };
import { parseArgs } from "node:util";
import { loadConfig, parseDuration } from "../core/config.ts";
import { DesConfigError, DesInputError } from "../core/errors.ts";
import { loadGatewaySettings } from "../gateway/gateway_config.ts";
import { startAllInOne } from "./all_in_one.ts";

function duration(flag: string, raw: string): number {
  try {
    return parseDuration(raw);
  } catch (e) {
    throw new DesInputError(`--${flag} ${raw}: ${(e as Error).message}`);
  }
}

/** Run until SIGINT/SIGTERM; resolves to the exit code. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      sources: { type: "string", default: "configs/sources.yaml" },
      "mark-interval": { type: "string", default: "60s" },
      "pack-interval": { type: "string", default: "60s" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DesInputError(`--port must be 0..65535, got ${values.port}`);
  }
  const service = await startAllInOne({
    config: loadConfig(),
    gateway: await loadGatewaySettings(),
    sourcesPath: values.sources,
    env: Deno.env,
    hostname: values.host,
    port,
    markIntervalMs: duration("mark-interval", values["mark-interval"]),
    packIntervalMs: duration("pack-interval", values["pack-interval"]),
  });
  console.log(`DES serving on ${service.url} (GET ${service.url}/files/<name>, /metrics)`);
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
  await stop.promise;
  await service.close();
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await serveCommand(Deno.args));
  } catch (e) {
    const usage = e instanceof DesInputError || e instanceof DesConfigError;
    console.error(`serve: ${(e as Error).message}`);
    Deno.exit(usage ? 2 : 1);
  }
}
