-- DES metadata schema, version 1.
-- Names and name ranges use the "C" collation: DES names compare byte by byte,
-- which within one shard is the order of their ids.

create table des_settings (
  key text primary key,
  value text not null,
  updated_at timestamptz not null default now()
);

-- One row per shard: the packing lease and progress counters.
create table des_shards (
  shard integer primary key check (shard >= 0 and shard < 65536),
  lease_owner text,
  lease_expires_at timestamptz,
  last_packed_at timestamptz,
  packed_containers bigint not null default 0,
  packed_files bigint not null default 0,
  packed_bytes bigint not null default 0,
  constraint des_shards_lease_whole check ((lease_owner is null) = (lease_expires_at is null))
);

-- The container catalog. A container is visible to readers once committed
-- (states committed, parent_updated, sources_released).
create table des_containers (
  id bigserial primary key,
  container_id text not null unique
    check (container_id ~ '^[0-9a-f]+$' and length(container_id) <= 64),
  shard integer not null check (shard >= 0 and shard < 65536),
  source text not null,
  bucket text not null,
  key text not null,
  size bigint check (size >= 0),
  file_count integer check (file_count >= 0),
  data_bytes bigint check (data_bytes >= 0),
  first_name text collate "C",
  last_name text collate "C",
  index_crc32c bigint check (index_crc32c between 0 and 4294967295),
  footer_crc32c bigint check (footer_crc32c between 0 and 4294967295),
  etag text,
  state text not null default 'building' check (state in (
    'building', 'uploaded', 'verified', 'committed', 'parent_updated', 'sources_released', 'aborted'
  )),
  owner text,
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  committed_at timestamptz,
  constraint des_containers_bucket_key unique (bucket, key),
  constraint des_containers_name_range check (first_name <= last_name),
  constraint des_containers_visible_complete check (
    state not in ('committed', 'parent_updated', 'sources_released') or (
      size is not null and file_count is not null and first_name is not null
      and last_name is not null and committed_at is not null
    )
  )
);
create index des_containers_shard_state on des_containers (shard, state);

-- NOTIFY des_container_committed {"shard": n, "containerId": "…"} when a
-- container becomes committed, whoever commits it.
create function des_notify_container_committed() returns trigger
language plpgsql as $$
begin
  perform pg_notify(
    'des_container_committed',
    json_build_object('shard', new.shard, 'containerId', new.container_id)::text
  );
  return null;
end
$$;
create trigger des_containers_committed_insert
  after insert on des_containers
  for each row when (new.state = 'committed')
  execute function des_notify_container_committed();
create trigger des_containers_committed_update
  after update of state on des_containers
  for each row when (new.state = 'committed' and old.state <> 'committed')
  execute function des_notify_container_committed();

-- Packing runs per shard and source, with a free-form checkpoint.
create table des_pack_jobs (
  id bigserial primary key,
  shard integer not null check (shard >= 0 and shard < 65536),
  source text not null,
  owner text not null,
  state text not null default 'running' check (state in ('running', 'done', 'failed')),
  container_id text,
  files_done bigint not null default 0,
  bytes_done bigint not null default 0,
  checkpoint jsonb,
  error text,
  started_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);
create index des_pack_jobs_shard_state on des_pack_jobs (shard, state);

-- Running retrievers and the shard range each serves.
create table des_retrievers (
  id text primary key,
  url text not null,
  range_start integer not null,
  range_end integer not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  constraint des_retrievers_range check (range_start >= 0 and range_start <= range_end)
);

-- One row per served read (written in batches by the gateway).
create table des_read_audit (
  id bigserial primary key,
  at timestamptz not null default now(),
  name text not null,
  status smallint not null,
  bytes bigint not null default 0,
  client text,
  trace_id text
);
create index des_read_audit_at on des_read_audit (at);
create index des_read_audit_name on des_read_audit (name);
