/**
 * The DES metadata database: the {@linkcode Db} seam over PostgreSQL and the
 * embedded engine, migrations, and the catalog and lease functions. See
 * docs/metadata-db.md.
 *
 * @module
 */

export * from "./db.ts";
export * from "./open_db.ts";
export * from "./postgres_db.ts";
export * from "./embedded_db.ts";
export * from "./quote_ident.ts";
export * from "./sql_errors.ts";
export * from "./migration_files.ts";
export * from "./migrate.ts";
export * from "./shards.ts";
export * from "./container_states.ts";
export * from "./containers.ts";
export * from "./container_events.ts";
export * from "./pack_jobs.ts";
export * from "./retrievers.ts";
export * from "./read_audit.ts";
export * from "./tombstones.ts";
