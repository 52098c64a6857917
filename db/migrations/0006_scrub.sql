-- Scrubbing: the last check of every container, and the files a check found damaged, with
-- what became of them (see docs/lifecycle.md, "Scrubbing").

-- The latest scrub of each container: when, whether everything matched, what was read.
create table des_scrub_results (
  container_id text primary key,
  scrubbed_at timestamptz not null default now(),
  ok boolean not null,
  -- bytes read and files whose checksums were computed
  bytes bigint not null default 0 check (bytes >= 0),
  files_checked integer not null default 0 check (files_checked >= 0),
  bad_files integer not null default 0 check (bad_files >= 0),
  -- structural problems, or why the container could not be read at all
  error text
);
create index des_scrub_results_scrubbed_at on des_scrub_results (scrubbed_at);

-- One row per damaged copy of a file: the name, the container holding the bad bytes, and the
-- outcome. 'damaged': not served, not repaired yet; 'repaired': a good copy was written to
-- repaired_container_id; 'lost': no original with the recorded checksum was left to repair from.
create table des_damaged_files (
  name text collate "C" not null,
  shard integer not null check (shard >= 0 and shard < 65536),
  container_id text not null,
  found_at timestamptz not null default now(),
  state text not null default 'damaged' check (state in ('damaged', 'repaired', 'lost')),
  repaired_container_id text,
  repaired_at timestamptz,
  -- what the check found (checksum expected and actual), then what repair found
  detail text,
  primary key (name, container_id),
  constraint des_damaged_files_repaired check (
    (state = 'repaired') = (repaired_container_id is not null and repaired_at is not null)
  )
);
create index des_damaged_files_unserved on des_damaged_files (shard, name)
  where state in ('damaged', 'lost');

-- NOTIFY des_file_damaged {"shard", "name", "state", "repairedContainerId"} whenever a damaged
-- file is recorded or its state changes, so retrievers stop or resume serving the name.
create function des_notify_file_damaged() returns trigger
language plpgsql as $$
begin
  perform pg_notify('des_file_damaged', json_build_object(
    'shard', new.shard, 'name', new.name, 'state', new.state,
    'repairedContainerId', new.repaired_container_id
  )::text);
  return null;
end
$$;
create trigger des_damaged_files_insert
  after insert on des_damaged_files
  for each row execute function des_notify_file_damaged();
create trigger des_damaged_files_update
  after update of state on des_damaged_files
  for each row when (new.state <> old.state)
  execute function des_notify_file_damaged();
