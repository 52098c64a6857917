/**
 * `des env [--markdown]`: every setting DES reads, its default and its
 * current value; exits 2 when the current environment is invalid.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadConfig, SETTINGS } from "../../core/config.ts";
import { writeLine } from "../output.ts";

const SECRET = /SECRET|PASSWORD|TOKEN|KEYS/;

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
  const lines = Object.values(SETTINGS).map((s) => {
    const raw = Deno.env.get(s.env);
    const shown = raw === undefined
      ? `${s.defaultValue} (default)`
      : SECRET.test(s.env) && raw
      ? "(set)"
      : raw;
    return `${s.env.padEnd(26)} ${shown}`;
  });
  await writeLine(lines.join("\n"));
  return 0;
}
