/**
 * Names and shards: Snowflake-like ids, their text form, the shard of a
 * name, shard ranges, the generator and the `POST /names` endpoint. See
 * docs/naming.md.
 *
 * @module
 */

export * from "./id_layout.ts";
export * from "./shard_hash.ts";
export * from "./base32.ts";
export * from "./naming_config.ts";
export * from "./name_codec.ts";
export * from "./name_generator.ts";
export * from "./names_app.ts";
export * from "./shard_range.ts";
