-- The read audit's time index becomes a BRIN index. Rows arrive in time order, so one summary of
-- the smallest and largest `at` per 128 pages finds a time range almost as well as the B-tree did,
-- and costs next to nothing per inserted row: the B-tree was a sizeable share of the write cost
-- of every audited read (measured on both engines; see docs/benchmarks.md).
--
-- The index on the parent is dropped with the indexes of its partitions, and the new one is
-- created on every partition, those made later by the audit maintenance included. Each new range
-- of 128 pages is summarized as soon as it is full (autosummarize), not only at the next VACUUM.
--
-- The migration holds an exclusive lock on the audit table while it reads every partition once
-- to build the summaries: gateways keep their audit rows in memory meanwhile (up to 100,000).
-- On a very large table run `des migrate` at a quiet hour.

drop index if exists des_read_audit_at;
drop index if exists des_read_audit_legacy_at;
create index des_read_audit_at on des_read_audit using brin (at) with (autosummarize = on);
