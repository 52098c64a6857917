/**
 * The gateway's readiness: every retriever in the routing table answers its
 * `/readyz`, and (when reads must be audited) the audit trail can record.
 * Computed at most every 2 s, so probes cannot multiply the load on the
 * retrievers.
 *
 * @module
 */

import { type Readiness, readinessOf } from "../core/health.ts";
import type { AuditTrail } from "./audit.ts";
import type { RoutingTable } from "./routing_table.ts";
import type { RetrieverTarget } from "./target.ts";

/** Readiness of the gateway's dependencies, cached for 2 s. */
export class GatewayReadiness {
  #at = 0;
  #value?: Promise<Record<string, string>>;

  /**
   * @param routing the current routing table
   * @param audit the audit trail, when reads must be audited
   */
  constructor(
    private readonly routing: () => RoutingTable<RetrieverTarget>,
    private readonly audit?: AuditTrail,
  ) {}

  /** The current readiness; check names are `retriever:<id>` and `audit`. */
  async check(): Promise<Readiness> {
    if (!this.#value || Date.now() - this.#at > 2000) {
      this.#at = Date.now();
      this.#value = this.#retrievers();
    }
    const checks = { ...await this.#value };
    if (this.audit) checks.audit = this.audit.health();
    return readinessOf(checks);
  }

  async #retrievers(): Promise<Record<string, string>> {
    const targets = this.routing().owners;
    const states = await Promise.all(targets.map((t) => t.ready().catch((e) => String(e))));
    return Object.fromEntries(targets.map((t, i) => [`retriever:${t.id}`, states[i]]));
  }
}
