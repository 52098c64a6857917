-- The read audit's time index becomes a BRIN index. Rows arrive in time order, so one summary of
-- the smallest and largest `at` per 128 pages finds a time range almost as well as the B-tree did,
-- and costs next to nothing per inserted row: the B-tree was a sizeable share of the write cost
-- of every audited read (measured on both engines; see docs/benchmarks.md).
--
-- The index on the parent is dropped with the indexes of its partitions, and the new one is
-- created on every partition, those made later by the audit maintenance included.

drop index if exists des_read_audit_at;
drop index if exists des_read_audit_legacy_at;
create index des_read_audit_at on des_read_audit using brin (at);
