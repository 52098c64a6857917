/**
 * The gateway's share of the read audit's lifecycle: whoever writes
 * `des_read_audit` also keeps its day partitions ahead and drops the expired
 * ones ({@linkcode maintainAuditPartitions}), at start and then every
 * `DES_AUDIT_MAINTENANCE_INTERVAL`. Several gateways may all do it: the
 * maintenance takes an advisory lock and a gateway that finds it taken
 * skips that round.
 *
 * A failure (database down, a role without the right to create tables) is
 * logged once per distinct message and retried at the next round; writing
 * the audit never depends on it, since rows without a day partition land in
 * the default partition and are moved when their partition is created.
 *
 * @module
 */

import type { Logger } from "../core/log.ts";
import {
  type AuditMaintenanceOptions,
  type AuditMaintenanceResult,
  maintainAuditPartitions,
} from "../db/audit_partitions.ts";
import type { Db } from "../db/db.ts";
import { sqlStateOf } from "../db/sql_errors.ts";

/** Options of {@linkcode AuditMaintainer}. */
export interface AuditMaintainerOptions extends Omit<AuditMaintenanceOptions, "now"> {
  /** Time between rounds, in ms. */
  intervalMs: number;
  /** Where rounds that changed something and failures are logged. */
  log?: Logger;
}

/** Runs the read audit partition maintenance now and on a timer. */
export class AuditMaintainer {
  readonly #db: Db;
  readonly #options: AuditMaintainerOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #running?: Promise<AuditMaintenanceResult | undefined>;
  #lastFailure?: string;

  /** Start: the first round begins at once. */
  constructor(db: Db, options: AuditMaintainerOptions) {
    this.#db = db;
    this.#options = options;
    this.#timer = setInterval(() => void this.run(), options.intervalMs);
    void this.run();
  }

  /** One round (joins the round in progress, if any). Never rejects; undefined when it failed. */
  run(): Promise<AuditMaintenanceResult | undefined> {
    this.#running ??= this.#round().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Stop the timer and wait for a round in progress. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async #round(): Promise<AuditMaintenanceResult | undefined> {
    const log = this.#options.log;
    try {
      const result = await maintainAuditPartitions(this.#db, {
        retentionDays: this.#options.retentionDays,
        aheadDays: this.#options.aheadDays,
      });
      if (this.#lastFailure !== undefined) log?.info("read audit maintenance works again", {});
      this.#lastFailure = undefined;
      if (result.created.length + result.dropped.length + result.deletedDefaultRows > 0) {
        log?.info("read audit partitions maintained", { ...result });
      }
      return result;
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      if (message !== this.#lastFailure) {
        log?.warn(
          sqlStateOf(error) === "42501"
            ? "read audit maintenance is not allowed for this database role; run `des audit-maintain` with the owner role from cron"
            : "read audit maintenance failed; will retry",
          { error, retentionDays: this.#options.retentionDays },
        );
      }
      this.#lastFailure = message;
      return undefined;
    }
  }
}
