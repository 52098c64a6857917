/**
 * Naming configuration: shard bits, name prefix and node id, validated, and
 * read from `DES_SHARD_BITS`, `DES_NAME_PREFIX` and `DES_NODE_ID`.
 *
 * @module
 */

import { DesConfigError } from "../core/errors.ts";
import { MAX_NODE_ID } from "./id_layout.ts";

/** Default `DES_SHARD_BITS`. */
export const DEFAULT_SHARD_BITS = 8;
/** Smallest allowed shard bits. */
export const MIN_SHARD_BITS = 1;
/** Largest allowed shard bits. */
export const MAX_SHARD_BITS = 16;
/** What a name prefix may contain (the `-` separator is added by DES). */
export const PREFIX_PATTERN: RegExp = /^[a-z0-9]{0,16}$/;

/** What is needed to read and check a name. */
export interface NameFormat {
  /** Bits of shard, 1..16. Fixed for the life of an archive. */
  shardBits: number;
  /** Name prefix, `[a-z0-9]{0,16}`; empty for none. */
  prefix: string;
}

/** What a generator needs: the name format plus this node's id. */
export interface NamingConfig extends NameFormat {
  /** This node's id, 0..1023, unique among running generators. */
  nodeId: number;
}

/** Throw `DesConfigError` unless the shard bits and prefix are valid. */
export function validateNameFormat(format: NameFormat): void {
  const { shardBits, prefix } = format;
  if (!Number.isInteger(shardBits) || shardBits < MIN_SHARD_BITS || shardBits > MAX_SHARD_BITS) {
    throw new DesConfigError(
      `DES_SHARD_BITS must be an integer in ${MIN_SHARD_BITS}..${MAX_SHARD_BITS}, got ${shardBits}`,
      { setting: "DES_SHARD_BITS", value: shardBits },
    );
  }
  if (typeof prefix !== "string" || !PREFIX_PATTERN.test(prefix)) {
    throw new DesConfigError(
      `DES_NAME_PREFIX must match [a-z0-9]{0,16} (the "-" separator is added), got ${
        JSON.stringify(prefix)
      }`,
      { setting: "DES_NAME_PREFIX", value: prefix },
    );
  }
}

/** Throw `DesConfigError` unless the whole naming configuration is valid. */
export function validateNamingConfig(config: NamingConfig): void {
  validateNameFormat(config);
  const { nodeId } = config;
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > MAX_NODE_ID) {
    throw new DesConfigError(`DES_NODE_ID must be an integer in 0..${MAX_NODE_ID}, got ${nodeId}`, {
      setting: "DES_NODE_ID",
      value: nodeId,
    });
  }
}

function intSetting(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\s*\d+\s*$/.test(raw)) {
    throw new DesConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`, {
      setting: name,
      value: raw,
    });
  }
  return Number(raw);
}

/**
 * Read the naming configuration from environment variables (default:
 * `Deno.env`). Unset values fall back to shard bits 8, no prefix, node 0.
 */
export function namingConfigFromEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): NamingConfig {
  const config: NamingConfig = {
    shardBits: intSetting("DES_SHARD_BITS", env.DES_SHARD_BITS, DEFAULT_SHARD_BITS),
    prefix: env.DES_NAME_PREFIX ?? "",
    nodeId: intSetting("DES_NODE_ID", env.DES_NODE_ID, 0),
  };
  validateNamingConfig(config);
  return config;
}
