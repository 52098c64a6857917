/**
 * When the archive needs an operator: a retriever whose heartbeat stopped,
 * an expired lease whose shard still has marked rows, dead-lettered rows, a
 * backlog larger than at the trend's reference sample. A pure function of
 * the facts, so the rules are tested without a database.
 *
 * @module
 */

import type { Attention, StatusReport } from "./status_report.ts";

/** The facts the rules look at. */
export type AttentionFacts = Pick<StatusReport, "retrievers" | "leases" | "sources">;

/** Everything in `facts` that needs attention, in a stable order. */
export function attentionOf(facts: AttentionFacts): Attention[] {
  const out: Attention[] = [];
  for (const r of facts.retrievers) {
    if (r.alive) continue;
    out.push({
      kind: "dead-retriever",
      message: `retriever ${r.id} (shards ${r.rangeStart}-${r.rangeEnd}, ${r.url}) ` +
        `has not sent a heartbeat for ${Math.round(r.heartbeatAgeSeconds)} s`,
    });
  }
  for (const l of facts.leases) {
    if (!l.expired || l.workLeft === 0) continue;
    out.push({
      kind: "expired-lease",
      message: `lease on shard ${l.shard} held by ${l.owner} expired at ` +
        `${l.expiresAt.toISOString()} with ${l.workLeft} marked rows left`,
    });
  }
  for (const s of facts.sources) {
    if (s.failed > 0) {
      out.push({
        kind: "dead-letters",
        message: `source ${s.source} has ${s.failed} dead-lettered rows`,
      });
    }
  }
  for (const s of facts.sources) {
    if (s.markedBefore !== null && s.marked > s.markedBefore) {
      out.push({
        kind: "growing-backlog",
        message: `source ${s.source}: backlog grew from ${s.markedBefore} to ${s.marked} ` +
          `marked rows since ${s.markedBeforeAt?.toISOString()}`,
      });
    }
  }
  return out;
}
