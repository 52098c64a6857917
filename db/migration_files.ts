/**
 * The migrations this build knows, in order. Each SQL file is embedded in the
 * module graph (text import), so a bundled build carries them too.
 *
 * @module
 */

import init from "./migrations/0001_init.sql" with { type: "text" };
import backlogSamples from "./migrations/0002_backlog_samples.sql" with { type: "text" };
import auditMethodRoute from "./migrations/0003_audit_method_route.sql" with { type: "text" };
import lifecycle from "./migrations/0004_lifecycle.sql" with { type: "text" };
import auditPartitions from "./migrations/0005_audit_partitions.sql" with { type: "text" };
import scrub from "./migrations/0006_scrub.sql" with { type: "text" };
import auditAtBrin from "./migrations/0007_audit_at_brin.sql" with { type: "text" };

/** One versioned migration script. */
export interface MigrationFile {
  /** 1, 2, 3 … with no gaps. */
  version: number;
  /** File name, `NNNN_words.sql`. */
  name: string;
  /** The SQL script. */
  sql: string;
}

/** All migrations, oldest first. Add new files here and in `db/migrations/`. */
export const MIGRATIONS: readonly MigrationFile[] = [
  { version: 1, name: "0001_init.sql", sql: init },
  { version: 2, name: "0002_backlog_samples.sql", sql: backlogSamples },
  { version: 3, name: "0003_audit_method_route.sql", sql: auditMethodRoute },
  { version: 4, name: "0004_lifecycle.sql", sql: lifecycle },
  { version: 5, name: "0005_audit_partitions.sql", sql: auditPartitions },
  { version: 6, name: "0006_scrub.sql", sql: scrub },
  { version: 7, name: "0007_audit_at_brin.sql", sql: auditAtBrin },
];
