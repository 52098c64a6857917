/**
 * The parent-system contract as configuration: `configs/sources.yaml` lists
 * every parent source (where its catalog table lives, what its columns and
 * status values are called, which rows are eligible and where the original
 * files are). {@linkcode loadSources} validates the whole file up front and
 * reports every problem at once.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { type EnvSource, SETTINGS } from "../core/config.ts";
import { DesConfigError } from "../core/errors.ts";

export { checkSourceAgainstDb, type IdType, type SourceSchema } from "./source_check.ts";

/** Logical column roles of a parent table, mapped to the parent's own column names. */
export interface SourceColumns {
  /** Primary key (bigint, integer, text or uuid). */
  id: string;
  /** Where the original file is: a path under `fs_root` or a key under the S3 prefix. */
  location: string;
  /** Lifecycle status (text, varchar, enum or integer). */
  status: string;
  /** Creation time; rows older than `max_age_days` are eligible. */
  created_at: string;
  /** DES name assigned by the marker. */
  des_name: string;
  /** Shard of the DES name (integer). */
  des_shard: string;
  /** Location of the container that holds the file, set by the packer. */
  container: string;
  /** Time the file was packed, set by the packer. */
  packed_at: string;
  /** Failure reason written with the failed status (optional). */
  error?: string;
  /** File size in bytes (optional). */
  size?: string;
  /** MIME type (optional). */
  content_type?: string;
}

/** The parent's status values for each stage of the DES lifecycle. */
export interface SourceStatuses {
  /** A live row that may be archived once old enough. */
  eligible: string;
  /** Marked by DES: has a name and shard, waits for the packer. */
  marked: string;
  /** Packed: the file is served from its container. */
  packed: string;
  /** Dead letter: DES could not mark, pack or delete the row; the reason is in `error`. */
  failed: string;
  /**
   * Deletion rule (optional, with `purged`): the parent sets a row to this
   * value to ask DES to forget its file.
   */
  deleted?: string;
  /** DES sets a deleted row to this value once the file's bytes are gone. */
  purged?: string;
}

/** Where a source's original files live. */
export type OriginalsConfig =
  | { kind: "fs"; root: string }
  | { kind: "s3"; bucket: string; prefix: string };

/** One validated parent source. */
export interface SourceConfig {
  /** Source name, recorded in containers. */
  name: string;
  /** Name of the environment variable holding the parent DSN. */
  dsnEnv: string;
  /** The DSN read from `dsnEnv`: `postgres://…` or `embedded:…`. */
  dsn: string;
  /** Schema of the table, when qualified. */
  schema?: string;
  /** Table (or updatable view) name. */
  table: string;
  /** Column names. */
  columns: SourceColumns;
  /** Status values. */
  statuses: SourceStatuses;
  /** Rows created more than this many days ago are eligible. */
  maxAgeDays: number;
  /** Extra SQL predicate on eligible rows (trusted operator configuration). */
  where?: string;
  /**
   * SQL condition that also asks for a delete, besides the deleted status
   * (trusted operator configuration; needs `statuses.deleted`/`purged`).
   */
  deleteWhere?: string;
  /** Where the originals are. */
  originals: OriginalsConfig;
}

const REQUIRED_COLUMNS = [
  "id",
  "location",
  "status",
  "created_at",
  "des_name",
  "des_shard",
  "container",
  "packed_at",
] as const;
const OPTIONAL_COLUMNS = ["error", "size", "content_type"] as const;
const STATUS_KEYS = ["eligible", "marked", "packed", "failed"] as const;
const DELETE_STATUS_KEYS = ["deleted", "purged"] as const;
const SOURCE_KEYS = [
  "name",
  "dsn_env",
  "table",
  "columns",
  "statuses",
  "max_age_days",
  "where",
  "delete_where",
  "originals",
];

/** A column, table or schema name: taken literally, 1–63 bytes, no NUL, not only spaces. */
function isIdentifier(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "" && !value.includes("\0") &&
    new TextEncoder().encode(value).length <= 63;
}
const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const DSN = /^(postgres(ql)?:\/\/|embedded:)/;
const S3_URL = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

/**
 * Read and validate `configs/sources.yaml`. Every problem (unknown or missing
 * keys, bad identifiers, unset DSN variables, …) is collected into one
 * {@linkcode DesConfigError} naming the file, the source and the key.
 *
 * @param path the YAML file
 * @param env where DSN variables and `DES_MARKER_MAX_AGE_DAYS` are read
 */
export async function loadSources(
  path: string,
  env: EnvSource = Deno.env,
): Promise<SourceConfig[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new DesConfigError(`cannot read sources file ${path}: ${(e as Error).message}`, {
      path,
    });
  }
  return parseSources(text, env, path);
}

/**
 * Validate sources given as YAML text; see {@linkcode loadSources}.
 *
 * @param text YAML with a top-level `sources:` list
 * @param env where DSN variables and `DES_MARKER_MAX_AGE_DAYS` are read
 * @param origin file name used in messages
 */
export function parseSources(
  text: string,
  env: EnvSource = Deno.env,
  origin = "sources.yaml",
): SourceConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new DesConfigError(`${origin}: not valid YAML: ${(e as Error).message}`, {
      path: origin,
    });
  }
  const problems: string[] = [];
  const sources: SourceConfig[] = [];
  if (!isRecord(doc) || !Array.isArray(doc.sources)) {
    problems.push("expected a top-level `sources:` list");
  } else {
    for (const key of Object.keys(doc)) {
      if (key !== "sources") problems.push(`unknown top-level key "${key}"`);
    }
    if (doc.sources.length === 0) problems.push("`sources:` is empty");
    const defaultAge = defaultMaxAge(env, problems);
    const seen = new Set<string>();
    doc.sources.forEach((raw: unknown, i: number) => {
      const source = parseSource(raw, i, env, defaultAge, problems);
      if (!source) return;
      if (seen.has(source.name)) problems.push(`source "${source.name}": duplicate name`);
      seen.add(source.name);
      sources.push(source);
    });
  }
  if (problems.length > 0) {
    throw new DesConfigError(
      `${origin}: invalid sources configuration:\n  ${problems.join("\n  ")}`,
      {
        path: origin,
        problems,
      },
    );
  }
  return sources;
}

function defaultMaxAge(env: EnvSource, problems: string[]): number {
  const spec = SETTINGS.markerMaxAgeDays;
  const raw = env.get(spec.env) ?? spec.defaultValue ?? "";
  try {
    return spec.parse(raw);
  } catch (e) {
    problems.push(`${spec.env}=${JSON.stringify(raw)}: ${(e as Error).message}`);
    return 0;
  }
}

function parseSource(
  raw: unknown,
  index: number,
  env: EnvSource,
  defaultAge: number,
  problems: string[],
): SourceConfig | undefined {
  if (!isRecord(raw)) {
    problems.push(`sources[${index}]: expected a mapping`);
    return undefined;
  }
  const label = typeof raw.name === "string" ? `source "${raw.name}"` : `sources[${index}]`;
  const add = (msg: string) => problems.push(`${label}: ${msg}`);
  unknownKeys(raw, SOURCE_KEYS, "", add);

  const name = requireString(raw, "name", add);
  if (name !== undefined && !SOURCE_NAME.test(name)) {
    add(`name ${JSON.stringify(name)} must be 1–63 of a–z, 0–9, _ or - (starting alphanumeric)`);
  }
  const dsnEnv = requireString(raw, "dsn_env", add);
  let dsn: string | undefined;
  if (dsnEnv !== undefined) {
    if (!ENV_NAME.test(dsnEnv)) add(`dsn_env ${JSON.stringify(dsnEnv)} is not a variable name`);
    else {
      dsn = env.get(dsnEnv);
      if (dsn === undefined || dsn === "") {
        add(`environment variable ${dsnEnv} (dsn_env) is not set`);
      } else if (!DSN.test(dsn)) {
        add(`${dsnEnv} must hold postgres://… or embedded:<dir>|embedded:memory`);
      }
    }
  }
  const tableName = parseTable(raw.table, add);
  const columns = parseColumns(raw.columns, add);
  const statuses = parseStatuses(raw.statuses, add);
  const maxAgeDays = parseMaxAge(raw.max_age_days, defaultAge, add);
  const where = parsePredicate(raw, "where", add);
  const deleteWhere = parsePredicate(raw, "delete_where", add);
  if (deleteWhere !== undefined && statuses && statuses.deleted === undefined) {
    add("delete_where needs statuses.deleted and statuses.purged (the deletion rule)");
  }
  const originals = parseOriginals(raw.originals, add);
  if (
    name === undefined || dsnEnv === undefined || dsn === undefined || !tableName || !columns ||
    !statuses || maxAgeDays === undefined || !originals
  ) return undefined;
  return {
    name,
    dsnEnv,
    dsn,
    ...tableName,
    columns,
    statuses,
    maxAgeDays,
    ...(where ? { where } : {}),
    ...(deleteWhere ? { deleteWhere } : {}),
    originals,
  };
}

/** An optional one-predicate SQL text (`where`, `delete_where`). */
function parsePredicate(
  raw: Record<string, unknown>,
  key: string,
  add: (msg: string) => void,
): string | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") add(`${key} must be a SQL text`);
  else if (value.includes(";")) add(`${key} must be one predicate (no \`;\`)`);
  else return value.trim();
  return undefined;
}

function parseTable(
  raw: unknown,
  add: (msg: string) => void,
): { schema?: string; table: string } | undefined {
  if (typeof raw !== "string" || raw === "") {
    add('missing key "table"');
    return undefined;
  }
  const parts = splitQualifiedName(raw);
  if (!parts || parts.length > 2 || !parts.every(isIdentifier)) {
    add(
      `table ${JSON.stringify(raw)} must be name or schema.name; write a name that holds ` +
        `a dot or a double quote in double quotes ("My.Schema"."Dokumente Alt")`,
    );
    return undefined;
  }
  return parts.length === 2 ? { schema: parts[0], table: parts[1] } : { table: parts[0] };
}

/**
 * Split `schema.table` at dots outside double quotes. A part in double
 * quotes is taken without them (`""` stands for one quote); a part without
 * quotes is taken as written, spaces and case included. `undefined` when a
 * quote is not closed or stray text follows a quoted part.
 */
export function splitQualifiedName(raw: string): string[] | undefined {
  const parts: string[] = [];
  let at = 0;
  for (;;) {
    let part = "";
    if (raw[at] === '"') {
      at++;
      for (;;) {
        const close = raw.indexOf('"', at);
        if (close < 0) return undefined;
        part += raw.slice(at, close);
        at = close + 1;
        if (raw[at] !== '"') break;
        part += '"';
        at++;
      }
      if (at < raw.length && raw[at] !== ".") return undefined;
    } else {
      const dot = raw.indexOf(".", at);
      part = raw.slice(at, dot < 0 ? raw.length : dot);
      if (part.includes('"')) return undefined;
      at = dot < 0 ? raw.length : dot;
    }
    parts.push(part);
    if (at >= raw.length) return parts;
    at++; // the dot
  }
}

function parseColumns(raw: unknown, add: (msg: string) => void): SourceColumns | undefined {
  if (!isRecord(raw)) {
    add('missing mapping "columns"');
    return undefined;
  }
  unknownKeys(raw, [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS], "columns.", add);
  const out: Record<string, string> = {};
  let ok = true;
  for (const key of [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]) {
    const value = raw[key];
    if (value === undefined || value === null) {
      if ((REQUIRED_COLUMNS as readonly string[]).includes(key)) {
        add(`missing key "columns.${key}"`);
        ok = false;
      }
      continue;
    }
    if (!isIdentifier(value)) {
      add(`columns.${key} ${JSON.stringify(value)} is not a column name (1–63 bytes, no NUL)`);
      ok = false;
      continue;
    }
    out[key] = value;
  }
  const used = new Map<string, string>();
  for (const [key, col] of Object.entries(out)) {
    const other = used.get(col);
    if (other) add(`columns.${key} and columns.${other} both name column "${col}"`);
    used.set(col, key);
  }
  return ok ? out as unknown as SourceColumns : undefined;
}

function parseStatuses(raw: unknown, add: (msg: string) => void): SourceStatuses | undefined {
  if (!isRecord(raw)) {
    add('missing mapping "statuses"');
    return undefined;
  }
  unknownKeys(raw, [...STATUS_KEYS, ...DELETE_STATUS_KEYS], "statuses.", add);
  const out: Record<string, string> = {};
  let ok = true;
  const take = (key: string) => {
    const value = raw[key];
    if (typeof value === "number" && Number.isInteger(value)) out[key] = String(value);
    else if (typeof value === "string" && value !== "") out[key] = value;
    else {
      add(value === undefined ? `missing key "statuses.${key}"` : `statuses.${key} must be text`);
      ok = false;
    }
  };
  for (const key of STATUS_KEYS) take(key);
  const deletion = DELETE_STATUS_KEYS.filter((key) => raw[key] !== undefined);
  if (deletion.length === 1) {
    add(
      `statuses.${deletion[0]} needs statuses.${
        deletion[0] === "deleted" ? "purged" : "deleted"
      } too: the deletion rule has both (the parent sets deleted, DES sets purged)`,
    );
    ok = false;
  } else if (deletion.length === 2) {
    for (const key of DELETE_STATUS_KEYS) take(key);
  }
  const count = STATUS_KEYS.length + (deletion.length === 2 ? 2 : 0);
  if (ok && new Set(Object.values(out)).size !== count) {
    add(`statuses must be ${count === 4 ? "four" : "six"} different values`);
    ok = false;
  }
  return ok ? out as unknown as SourceStatuses : undefined;
}

function parseMaxAge(
  raw: unknown,
  defaultAge: number,
  add: (msg: string) => void,
): number | undefined {
  if (raw === undefined || raw === null) return defaultAge;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0) {
    add("max_age_days must be a whole number of days ≥ 0");
    return undefined;
  }
  return raw;
}

function parseOriginals(raw: unknown, add: (msg: string) => void): OriginalsConfig | undefined {
  if (!isRecord(raw)) {
    add('missing mapping "originals" (fs_root: /dir or s3: s3://bucket/prefix)');
    return undefined;
  }
  unknownKeys(raw, ["fs_root", "s3"], "originals.", add);
  const hasFs = raw.fs_root !== undefined;
  const hasS3 = raw.s3 !== undefined;
  if (hasFs === hasS3) {
    add("originals needs exactly one of fs_root or s3");
    return undefined;
  }
  if (hasFs) {
    if (typeof raw.fs_root !== "string" || !raw.fs_root.startsWith("/")) {
      add("originals.fs_root must be an absolute directory path");
      return undefined;
    }
    return { kind: "fs", root: raw.fs_root.replace(/\/+$/, "") || "/" };
  }
  const m = typeof raw.s3 === "string" ? S3_URL.exec(raw.s3) : null;
  if (!m) {
    add("originals.s3 must look like s3://bucket or s3://bucket/prefix");
    return undefined;
  }
  const prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  return { kind: "s3", bucket: m[1], prefix };
}

function requireString(
  raw: Record<string, unknown>,
  key: string,
  add: (msg: string) => void,
): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) add(`missing key "${key}"`);
  else if (typeof value !== "string" || value === "") add(`${key} must be text`);
  else return value;
  return undefined;
}

function unknownKeys(
  raw: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  add: (msg: string) => void,
): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      add(`unknown key "${prefix}${key}" (expected one of: ${known.join(", ")})`);
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
