/**
 * The operator's view of a whole DES archive as plain data: what
 * `des status` prints and `GET /status` renders. Every field is read from
 * the metadata DB and the parent sources at one moment ({@linkcode StatusReport.at}).
 *
 * @module
 */

/** One registered retriever and whether its heartbeat is recent. */
export interface RetrieverStatus {
  /** Retriever id. */
  id: string;
  /** Base URL the gateway forwards to. */
  url: string;
  /** First shard served, inclusive. */
  rangeStart: number;
  /** Last shard served, inclusive. */
  rangeEnd: number;
  /** Seconds since its last heartbeat. */
  heartbeatAgeSeconds: number;
  /** False when the heartbeat is older than the dead-retriever threshold. */
  alive: boolean;
}

/** Containers, files and bytes readers can see, per shard. */
export interface ShardStatus {
  /** Shard number. */
  shard: number;
  /** Committed containers. */
  containers: number;
  /** Files in them. */
  files: number;
  /** Container bytes. */
  bytes: number;
}

/** A held shard lease. */
export interface LeaseStatus {
  /** Shard number. */
  shard: number;
  /** Packer holding it. */
  owner: string;
  /** When the holder's current pack job on the shard started, if one is recorded. */
  since: Date | null;
  /** When the lease ends unless renewed. */
  expiresAt: Date;
  /** The lease has ended without being released. */
  expired: boolean;
  /** Marked rows of the shard still waiting for the packer (all sources). */
  workLeft: number;
}

/** One parent source's rows by lifecycle stage, with the backlog trend. */
export interface SourceStatus {
  /** Source name. */
  source: string;
  /** Rows in the eligible status (any age). */
  eligible: number;
  /** Rows marked but not packed: the backlog. */
  marked: number;
  /** Packed rows. */
  packed: number;
  /** Dead-lettered rows (failed status). */
  failed: number;
  /** Backlog at the trend's reference sample, or null when there is none yet. */
  markedBefore: number | null;
  /** When the reference sample was taken. */
  markedBeforeAt: Date | null;
}

/** A dead-lettered parent row. */
export interface DeadLetter {
  /** Source name. */
  source: string;
  /** Row id, as text. */
  id: string;
  /** The row's location (path or key of the original). */
  location: string;
  /** Why DES gave up on it (null when the source has no error column). */
  reason: string | null;
}

/** A recent failure recorded in the metadata DB. */
export interface RecentError {
  /** When it was recorded. */
  at: Date;
  /** What failed: `container` (aborted) or `pack job`. */
  kind: "container" | "pack job";
  /** Shard concerned. */
  shard: number;
  /** The recorded error text. */
  error: string;
}

/** Something an operator should look at; `des status` exits 1 when there is any. */
export interface Attention {
  /** Machine-readable kind. */
  kind: "dead-retriever" | "expired-lease" | "dead-letters" | "growing-backlog";
  /** One sentence for a human. */
  message: string;
}

/** The whole view. */
export interface StatusReport {
  /** When it was read (database clock). */
  at: Date;
  /** Where the metadata DB is (no password). */
  database: string;
  /** Shards of the archive (2^DES_SHARD_BITS). */
  shardCount: number;
  /** Registered retrievers by range. */
  retrievers: RetrieverStatus[];
  /** Shards with at least one committed container. */
  shards: ShardStatus[];
  /** Held leases. */
  leases: LeaseStatus[];
  /** Per parent source. */
  sources: SourceStatus[];
  /** The most recent dead-lettered rows (at most the configured limit), all sources. */
  deadLetters: DeadLetter[];
  /** Failures of the last 24 hours, newest first. */
  recentErrors: RecentError[];
  /** What needs attention, empty when all is well. */
  attention: Attention[];
}
