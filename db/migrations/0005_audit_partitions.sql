-- The read audit, partitioned by range on `at` in UTC days, so that retention drops whole
-- partitions instead of deleting rows (see docs/lifecycle.md, "Audit retention").
--
-- No row is copied: the existing table becomes one partition, des_read_audit_legacy, covering
-- everything before the end of the UTC day of the migration, and PostgreSQL only checks (one scan)
-- that its rows fit that range. The few rows stamped later than that (a clock far ahead) are moved
-- through the new table first. An empty table is simply dropped.
--
-- A default partition takes any row that no day partition covers, so an insert never fails for
-- want of a partition. The day partitions themselves (des_read_audit_pYYYYMMDD) are created ahead
-- and dropped after DES_AUDIT_RETENTION_DAYS by `des audit-maintain` and by the gateways.
--
-- There is no primary key any more: on a partitioned table it would have to include `at`, and no
-- reader looks rows up by id. `id` still comes from the same sequence, des_read_audit_id_seq.

alter table des_read_audit rename to des_read_audit_legacy;
alter index des_read_audit_pkey rename to des_read_audit_legacy_pkey;
alter index des_read_audit_at rename to des_read_audit_legacy_at;
alter index des_read_audit_name rename to des_read_audit_legacy_name;
alter sequence des_read_audit_id_seq owned by none;

create table des_read_audit (
  id bigint not null default nextval('des_read_audit_id_seq'),
  at timestamptz not null default now(),
  name text not null,
  status smallint not null,
  bytes bigint not null default 0,
  client text,
  trace_id text,
  method text,
  route text
) partition by range (at);
alter sequence des_read_audit_id_seq owned by des_read_audit.id;
create index des_read_audit_at on des_read_audit (at);
create index des_read_audit_name on des_read_audit (name);
create table des_read_audit_default partition of des_read_audit default;

do $$
declare
  bound timestamptz := date_trunc('day', now(), 'UTC') + interval '1 day';
begin
  if not exists (select 1 from des_read_audit_legacy) then
    drop table des_read_audit_legacy;
    return;
  end if;
  insert into des_read_audit (id, at, name, status, bytes, client, trace_id, method, route)
    select id, at, name, status, bytes, client, trace_id, method, route
    from des_read_audit_legacy where at >= bound;
  delete from des_read_audit_legacy where at >= bound;
  alter table des_read_audit_legacy alter column id drop default;
  execute format(
    'alter table des_read_audit attach partition des_read_audit_legacy for values from (minvalue) to (%L)',
    bound);
end $$;
