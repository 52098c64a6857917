/**
 * `des env [--markdown]`: every setting DES reads, its default and its
 * current value; exits 2 when the current environment is invalid. Secrets
 * are shown as `(set)` and URL passwords as `***`, so the output can be
 * pasted into a ticket.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadConfig, SETTINGS } from "../../core/config.ts";
import { displayValue } from "../../core/redact.ts";
import { GATEWAY_SETTINGS } from "../../gateway/gateway_config.ts";
import { writeLine } from "../output.ts";

/** The settings as a Markdown table (the README's configuration table). */
export function settingsTable(): string {
  const rows = Object.values(SETTINGS).map((s) =>
    `| \`${s.env}\` | ${
      s.defaultValue === "" ? "(empty)" : `\`${s.defaultValue}\``
    } | ${s.description} |`
  );
  return ["| variable | default | meaning |", "|---|---|---|", ...rows].join("\n");
}

/** CLI entry. */
export async function envCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { markdown: { type: "boolean" } } });
  if (values.markdown) {
    await writeLine(settingsTable());
    return 0;
  }
  loadConfig(); // throws DesConfigError listing every problem
  const settings = [...Object.values(SETTINGS), ...GATEWAY_SETTINGS];
  const width = Math.max(...settings.map((s) => s.env.length)) + 1;
  const lines = settings.map((s) => {
    const raw = Deno.env.get(s.env);
    const shown = raw === undefined
      ? `${s.defaultValue ?? ""} (default)`
      : displayValue(s.env, raw);
    return `${s.env.padEnd(width)} ${shown}`;
  });
  await writeLine(lines.join("\n"));
  return 0;
}
