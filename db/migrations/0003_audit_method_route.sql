-- The read audit records how a request was made and which operation it hit, and rows the
-- database refused (a value it cannot store) are kept aside instead of blocking the trail.
alter table des_read_audit add column method text;
alter table des_read_audit add column route text;

create table des_read_audit_rejected (
  id bigserial primary key,
  rejected_at timestamptz not null default now(),
  -- the refused row as JSON text (escaped, so any value fits)
  row_json text not null,
  -- SQLSTATE and message of the refusal
  error text not null
);
