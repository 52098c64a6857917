/**
 * DES configuration: every environment variable the system reads, with its
 * default, its meaning and its validation, in one table. Components call
 * {@linkcode loadConfig} once at start-up; a wrong value stops the process
 * with a message that names the variable and says what is expected.
 *
 * @module
 */

import { DesConfigError } from "./errors.ts";
import { displayValue } from "./redact.ts";

/** One documented setting. */
export interface SettingSpec<T> {
  /** Environment variable name. */
  env: string;
  /** What it controls, for people (README table, `des env`). */
  description: string;
  /** Default as it would be written in the environment; `undefined` = no default. */
  defaultValue?: string;
  /** Turns the raw string into a value or throws a message describing what is expected. */
  parse: (raw: string) => T;
}

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected an integer from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parse a byte size such as `16MiB`, `512k` or `1048576`. */
export function parseByteSize(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error("expected a byte size such as 16MiB, 512KiB or 1048576");
  }
  return Math.round(Number(m[1]) * unit);
}

/** Parse a duration such as `60s`, `5m`, `250ms` or `1h` into milliseconds. */
export function parseDuration(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
  if (!m) throw new Error("expected a duration such as 250ms, 60s, 5m or 1h");
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Math.round(Number(m[1]) * factor);
}

function durationBetween(minMs: number, maxMs: number): (raw: string) => number {
  return (raw) => {
    const ms = parseDuration(raw);
    if (ms < minMs || ms > maxMs) {
      throw new Error(`expected a duration from ${minMs / 1000}s to ${maxMs / 1000}s`);
    }
    return ms;
  };
}

function boolean(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  throw new Error("expected true or false");
}

function text(pattern?: RegExp, hint?: string): (raw: string) => string {
  return (raw) => {
    if (pattern && !pattern.test(raw)) throw new Error(hint ?? `expected to match ${pattern}`);
    return raw;
  };
}

function databaseUrl(raw: string): string {
  if (/^postgres(ql)?:\/\//.test(raw) || /^embedded:/.test(raw)) return raw;
  throw new Error(
    "expected postgres://user@host:port/db or embedded:<directory> or embedded:memory",
  );
}

function httpUrl(raw: string): string {
  if (raw === "") return raw;
  try {
    const u = new URL(raw);
    if (u.protocol === "http:" || u.protocol === "https:") return raw.replace(/\/+$/, "");
  } catch {
    // fall through
  }
  throw new Error("expected an http:// or https:// URL, e.g. http://127.0.0.1:7480");
}

/** The type of {@linkcode SETTINGS}: one spec per setting. */
export interface Settings {
  /** `shardBits` */
  shardBits: SettingSpec<number>;
  /** `nodeId` */
  nodeId: SettingSpec<number>;
  /** `namePrefix` */
  namePrefix: SettingSpec<string>;
  /** `markerBatchSize` */
  markerBatchSize: SettingSpec<number>;
  /** `markerMaxAgeDays` */
  markerMaxAgeDays: SettingSpec<number>;
  /** `packerWorkdir` */
  packerWorkdir: SettingSpec<string>;
  /** `archiveBucket` */
  archiveBucket: SettingSpec<string>;
  /** `databaseUrl` */
  databaseUrl: SettingSpec<string>;
  /** `s3Endpoint` */
  s3Endpoint: SettingSpec<string>;
  /** `s3Region` */
  s3Region: SettingSpec<string>;
  /** `s3AccessKeyId` */
  s3AccessKeyId: SettingSpec<string>;
  /** `s3SecretAccessKey` */
  s3SecretAccessKey: SettingSpec<string>;
  /** `bigFileThreshold` */
  bigFileThreshold: SettingSpec<number>;
  /** `deleteSources` */
  deleteSources: SettingSpec<boolean>;
  /** `originalReadTimeout` */
  originalReadTimeout: SettingSpec<number>;
  /** `originalReadRetries` */
  originalReadRetries: SettingSpec<number>;
  /** `kvPath` */
  kvPath: SettingSpec<string>;
  /** `storeRoot` */
  storeRoot: SettingSpec<string>;
  /** `logLevel` */
  logLevel: SettingSpec<string>;
  /** `cacheMemoryBytes` */
  cacheMemoryBytes: SettingSpec<number>;
  /** `cacheDiskBytes` */
  cacheDiskBytes: SettingSpec<number>;
  /** `cacheDir` */
  cacheDir: SettingSpec<string>;
  /** `retrieverCacheBytes` */
  retrieverCacheBytes: SettingSpec<number>;
  /** `retrieverMaxReaders` */
  retrieverMaxReaders: SettingSpec<number>;
  /** `kvMaxBytes` */
  kvMaxBytes: SettingSpec<number>;
  /** `auditRetentionDays` */
  auditRetentionDays: SettingSpec<number>;
  /** `auditPartitionsAhead` */
  auditPartitionsAhead: SettingSpec<number>;
  /** `auditMaintenanceInterval` */
  auditMaintenanceInterval: SettingSpec<number>;
  /** `compactThreshold` */
  compactThreshold: SettingSpec<number>;
  /** `compactGrace` */
  compactGrace: SettingSpec<number>;
  /** `compactMergeBelow` */
  compactMergeBelow: SettingSpec<number>;
}

/** Every setting DES reads, in the order the README documents them. */
export const SETTINGS: Settings = {
  shardBits: {
    env: "DES_SHARD_BITS",
    description:
      "Shard bits encoded in every name (2^bits shards). Fixed for the life of an archive.",
    defaultValue: "8",
    parse: integer(1, 16),
  },
  nodeId: {
    env: "DES_NODE_ID",
    description: "Node id (0–1023) in generated names; unique per process that assigns names.",
    defaultValue: "0",
    parse: integer(0, 1023),
  },
  namePrefix: {
    env: "DES_NAME_PREFIX",
    description: "Optional lowercase prefix of every name (0–16 of a–z, 0–9).",
    defaultValue: "",
    parse: text(/^[a-z0-9]{0,16}$/, "expected 0–16 lowercase letters or digits"),
  },
  markerBatchSize: {
    env: "DES_MARKER_BATCH_SIZE",
    description: "Rows the marker marks per transaction.",
    defaultValue: "5000",
    parse: integer(1, 1_000_000),
  },
  markerMaxAgeDays: {
    env: "DES_MARKER_MAX_AGE_DAYS",
    description: "Rows older than this many days are eligible for archiving.",
    defaultValue: "30",
    parse: integer(0, 100_000),
  },
  packerWorkdir: {
    env: "DES_PACKER_WORKDIR",
    description: "Local directory where the packer builds containers before upload.",
    defaultValue: ".des/work",
    parse: text(/./, "expected a directory path"),
  },
  archiveBucket: {
    env: "DES_ARCHIVE_BUCKET",
    description: "Bucket (S3) or directory (filesystem store) that holds the containers.",
    defaultValue: "des-archive",
    parse: text(/./, "expected a bucket name or a directory"),
  },
  databaseUrl: {
    env: "DES_DATABASE_URL",
    description: "DES metadata DB: postgres://… in production, embedded:<dir> for one machine.",
    defaultValue: "embedded:.des/db",
    parse: databaseUrl,
  },
  s3Endpoint: {
    env: "DES_S3_ENDPOINT",
    description: "S3 endpoint (Ceph RGW). Empty = filesystem store under .des/store.",
    defaultValue: "",
    parse: httpUrl,
  },
  s3Region: {
    env: "DES_S3_REGION",
    description: "S3 region name sent in signatures.",
    defaultValue: "us-east-1",
    parse: text(/^[a-z0-9-]+$/, "expected a region name such as us-east-1"),
  },
  s3AccessKeyId: {
    env: "DES_S3_ACCESS_KEY_ID",
    description: "S3 access key id (required when DES_S3_ENDPOINT is set).",
    defaultValue: "",
    parse: text(),
  },
  s3SecretAccessKey: {
    env: "DES_S3_SECRET_ACCESS_KEY",
    description: "S3 secret access key (required when DES_S3_ENDPOINT is set).",
    defaultValue: "",
    parse: text(),
  },
  bigFileThreshold: {
    env: "DES_BIG_FILE_THRESHOLD",
    description: "Files larger than this are stored as separate _bigFiles/ objects.",
    defaultValue: "16MiB",
    parse: parseByteSize,
  },
  deleteSources: {
    env: "DES_DELETE_SOURCES",
    description: "Delete originals once their container is verified, committed and recorded.",
    defaultValue: "false",
    parse: boolean,
  },
  originalReadTimeout: {
    env: "DES_ORIGINAL_READ_TIMEOUT",
    description: "Time one read of an original may take before it counts as failed (1s–1h).",
    defaultValue: "60s",
    parse: durationBetween(1000, 3_600_000),
  },
  originalReadRetries: {
    env: "DES_ORIGINAL_READ_RETRIES",
    description: "Retries of a failed read of an original before its row is dead-lettered.",
    defaultValue: "2",
    parse: integer(0, 10),
  },
  kvPath: {
    env: "DES_KV_PATH",
    description: "Deno KV file of the retriever's persistent index cache.",
    defaultValue: ".des/index-cache.kv",
    parse: text(/./, "expected a file path"),
  },
  storeRoot: {
    env: "DES_STORE_ROOT",
    description: "Root directory of the filesystem store (used when DES_S3_ENDPOINT is empty).",
    defaultValue: ".des/store",
    parse: text(/./, "expected a directory path"),
  },
  logLevel: {
    env: "DES_LOG_LEVEL",
    description: "Lowest log level written: debug, info, warn or error.",
    defaultValue: "info",
    parse: text(/^(debug|info|warn|error)$/, "expected debug, info, warn or error"),
  },
  cacheMemoryBytes: {
    env: "DES_CACHE_MEMORY_BYTES",
    description: "Retriever byte cache in memory for hot small files (0 = off).",
    defaultValue: "64MiB",
    parse: byteSizeAtMost(64 * 1024 ** 3),
  },
  cacheDiskBytes: {
    env: "DES_CACHE_DISK_BYTES",
    description: "Retriever byte cache on local disk under DES_CACHE_DIR (0 = off).",
    defaultValue: "0",
    parse: byteSizeAtMost(2 ** 50),
  },
  cacheDir: {
    env: "DES_CACHE_DIR",
    description: "Directory of the retriever's disk byte cache (its files only).",
    defaultValue: ".des/cache",
    parse: text(/./, "expected a directory path"),
  },
  retrieverCacheBytes: {
    env: "DES_RETRIEVER_CACHE_BYTES",
    description: "Retriever index cache in memory: container tails (footer, index, meta).",
    defaultValue: "256MiB",
    parse: byteSizeAtMost(64 * 1024 ** 3),
  },
  retrieverMaxReaders: {
    env: "DES_RETRIEVER_MAX_READERS",
    description: "Retriever index cache in memory: most open containers.",
    defaultValue: "4096",
    parse: integer(1, 10_000_000),
  },
  kvMaxBytes: {
    env: "DES_KV_MAX_BYTES",
    description: "Deno KV index cache size; the oldest tails are evicted beyond it (0 = no bound).",
    defaultValue: "1GiB",
    parse: byteSizeAtMost(2 ** 50),
  },
  auditRetentionDays: {
    env: "DES_AUDIT_RETENTION_DAYS",
    description:
      "Whole UTC days of read audit kept; older day partitions are dropped (0 = keep forever).",
    defaultValue: "90",
    parse: integer(0, 36_500),
  },
  auditPartitionsAhead: {
    env: "DES_AUDIT_PARTITIONS_AHEAD",
    description: "Days ahead of today that read audit partitions are created for.",
    defaultValue: "7",
    parse: integer(1, 366),
  },
  auditMaintenanceInterval: {
    env: "DES_AUDIT_MAINTENANCE_INTERVAL",
    description: "How often a gateway maintains the read audit partitions (1m–24h).",
    defaultValue: "1h",
    parse: durationBetween(60_000, 86_400_000),
  },
  compactThreshold: {
    env: "DES_COMPACT_THRESHOLD",
    description: "Compact a container once dead bytes / data bytes exceed this ratio (0.01–1).",
    defaultValue: "0.3",
    parse: ratio(0.01, 1),
  },
  compactGrace: {
    env: "DES_COMPACT_GRACE",
    description: "Time a compacted container's old object stays readable before it is deleted.",
    defaultValue: "10m",
    parse: durationBetween(0, 30 * 86_400_000),
  },
  compactMergeBelow: {
    env: "DES_COMPACT_MERGE_BELOW",
    description:
      "Merge settled containers of one shard with fewer data bytes than this into containers of up to this size (0 = never).",
    defaultValue: "0",
    parse: byteSizeAtMost(1024 ** 3),
  },
};

function ratio(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw.trim());
    if (!/^\s*\d*\.?\d+\s*$/.test(raw) || !(n >= min && n <= max)) {
      throw new Error(`expected a ratio from ${min} to ${max}, e.g. 0.3 for 30 % dead bytes`);
    }
    return n;
  };
}

function byteSizeAtMost(max: number): (raw: string) => number {
  return (raw) => {
    const n = parseByteSize(raw);
    if (n > max) throw new Error(`expected a byte size of at most ${max}`);
    return n;
  };
}

/** The retriever byte cache settings of a configuration. */
export function byteCacheOf(
  config: DesConfig,
): { memoryBytes: number; diskBytes: number; dir: string } {
  return {
    memoryBytes: config.cacheMemoryBytes,
    diskBytes: config.cacheDiskBytes,
    dir: config.cacheDir,
  };
}

/** The retriever index cache limits of a configuration (memory LRU and Deno KV). */
export function indexCacheOf(
  config: DesConfig,
): { maxCacheBytes: number; maxReaders: number; kvMaxBytes: number } {
  return {
    maxCacheBytes: config.retrieverCacheBytes,
    maxReaders: config.retrieverMaxReaders,
    kvMaxBytes: config.kvMaxBytes,
  };
}

/** The read audit partition settings of a configuration. */
export function auditLifecycleOf(
  config: DesConfig,
): { retentionDays: number; aheadDays: number; intervalMs: number } {
  return {
    retentionDays: config.auditRetentionDays,
    aheadDays: config.auditPartitionsAhead,
    intervalMs: config.auditMaintenanceInterval,
  };
}

/** The validated configuration: one typed value per setting. */
export type DesConfig = { [K in keyof Settings]: ReturnType<Settings[K]["parse"]> };

/** A source of environment variables (defaults to `Deno.env`). */
export interface EnvSource {
  /** Value of a variable or `undefined`. */
  get(name: string): string | undefined;
}

/**
 * Read and validate every setting. All problems are collected and reported
 * together in one {@linkcode DesConfigError}.
 *
 * @example
 * ```ts
 * const config = loadConfig(new Map([["DES_SHARD_BITS", "10"]]));
 * config.shardBits; // 10
 * ```
 */
export function loadConfig(env: EnvSource = Deno.env): DesConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [string, SettingSpec<unknown>][]) {
    const raw = env.get(spec.env) ?? spec.defaultValue ?? "";
    try {
      out[key] = spec.parse(raw);
    } catch (e) {
      // The value is echoed to help, but never a secret or a URL's password.
      const shown = JSON.stringify(displayValue(spec.env, raw).slice(0, 200));
      problems.push(`${spec.env}=${shown}: ${(e as Error).message}`);
    }
  }
  const config = out as DesConfig;
  if (problems.length === 0 && config.s3Endpoint) {
    for (const s of [SETTINGS.s3AccessKeyId, SETTINGS.s3SecretAccessKey]) {
      if (!env.get(s.env)) problems.push(`${s.env} is required when DES_S3_ENDPOINT is set`);
    }
  }
  if (problems.length > 0) {
    throw new DesConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`, { problems });
  }
  return config;
}
