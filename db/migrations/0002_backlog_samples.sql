-- DES metadata schema, version 2: backlog samples for the status view's trend.
-- One row per source every minute or more (written when the status is read):
-- rows marked but not yet packed.
create table des_backlog_samples (
  source text not null,
  at timestamptz not null default now(),
  marked bigint not null check (marked >= 0),
  primary key (source, at)
);
