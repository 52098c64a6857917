/**
 * Structured logging: one JSON object per line on stderr, with a timestamp,
 * level, component and — when a request is being served — its trace id.
 *
 * @module
 */

import { redactCredentials } from "./redact.ts";

/** Log severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Where log lines go (stderr by default; tests may capture them). The level
 * lets a batching sink write an `error` line at once.
 */
export type LogSink = (line: string, level?: LogLevel) => void;

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
};

/** Keys every line starts with; a field of the same name takes their value in place. */
const HEAD_KEYS = new Set(["time", "level", "msg"]);

let lastMs = Number.NaN;
let lastTime = "";

/** `new Date().toISOString()`, formatted once per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastTime = new Date(ms).toISOString();
  }
  return lastTime;
}

/** A key that starts with a digit: an object lists integer keys first, whatever their order. */
function isIndexLike(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57;
}

/** A component's logger. Cheap to create; `child()` adds fixed fields. */
export class Logger {
  #fields: Record<string, unknown>;
  /** `#fields` as JSON members with a leading comma, made at the first line. */
  #fieldsJson?: string;
  #min: number;
  #sink: LogSink;

  /**
   * @param component name written into every line, e.g. `packer`
   * @param options minimum level, extra fields, sink
   */
  constructor(
    component: string,
    options: { level?: LogLevel; fields?: Record<string, unknown>; sink?: LogSink } = {},
  ) {
    this.#fields = { component, ...options.fields };
    this.#min = RANK[options.level ?? envLevel()];
    this.#sink = options.sink ?? stderrSink;
  }

  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger {
    const child = new Logger(String(this.#fields.component), { sink: this.#sink });
    child.#fields = { ...this.#fields, ...fields };
    child.#fieldsJson = undefined;
    child.#min = this.#min;
    return child;
  }

  /** Whether a line at `level` would be written (skip building its fields when not). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }

  /** Write one line at `level`. */
  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < this.#min) return;
    // A driver's error message or a URL field can carry a password: never write it.
    this.#sink(
      redactCredentials(this.#plainLine(level, msg, fields) ?? this.#line(level, msg, fields)),
      level,
    );
  }

  /**
   * The line built from pre-serialized parts, when every field is plain (no
   * `Error`, no top-level bigint, no key of the line's own, none starting with a digit): the same text
   * as {@linkcode Logger.#line}, for a fraction of the cost. Undefined otherwise.
   */
  #plainLine(level: LogLevel, msg: string, fields: Record<string, unknown>): string | undefined {
    for (const k in fields) {
      const v = fields[k];
      if (
        v instanceof Error || typeof v === "bigint" || HEAD_KEYS.has(k) || k in this.#fields ||
        isIndexLike(k)
      ) {
        return undefined;
      }
    }
    let rest: string;
    try {
      rest = JSON.stringify(fields);
    } catch {
      return undefined; // a nested bigint
    }
    this.#fieldsJson ??= serialize(this.#fields).slice(1, -1);
    const fixed = this.#fieldsJson === "" ? "" : `,${this.#fieldsJson}`;
    return `{"time":"${isoNow()}","level":"${level}","msg":${JSON.stringify(msg)}${fixed}${
      rest === "{}" ? "}" : `,${rest.slice(1)}`
    }`;
  }

  #line(level: LogLevel, msg: string, fields: Record<string, unknown>): string {
    const line: Record<string, unknown> = {
      time: isoNow(),
      level,
      msg,
      ...this.#fields,
    };
    for (const k in fields) {
      const v = fields[k];
      line[k] = v instanceof Error
        ? { name: v.name, message: v.message }
        : typeof v === "bigint"
        ? v.toString()
        : v;
    }
    return serialize(line);
  }

  /** Debug line. */
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  /** Info line. */
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  /** Warning line. */
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }
  /** Error line. */
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }
}

/**
 * JSON of a line: without a replacer (a replacer function makes every line
 * several times slower to serialize), with one only when a nested value is
 * a bigint.
 */
function serialize(line: Record<string, unknown>): string {
  try {
    return JSON.stringify(line);
  } catch {
    return JSON.stringify(line, bigintReplacer);
  }
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function envLevel(): LogLevel {
  try {
    const v = Deno.env.get("DES_LOG_LEVEL");
    if (v && v in RANK) return v as LogLevel;
  } catch {
    // no env permission: default
  }
  return "info";
}
