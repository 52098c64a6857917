-- Lifecycle: tombstones for deleted names, dead-byte accounting on containers, and the
-- states a container passes through when compaction replaces it (see docs/lifecycle.md).

-- One row per deleted DES name. A tombstoned name answers 410 Gone from then on.
create table des_tombstones (
  name text collate "C" primary key,
  shard integer not null check (shard >= 0 and shard < 65536),
  -- who asked: the parent's deletion rule ('parent') or DELETE /files/<name> ('api')
  origin text not null check (origin in ('parent', 'api')),
  -- parent source name (origin parent) or API key id (origin api)
  actor text,
  -- the container holding the name's bytes when it was deleted (null: never packed)
  container_id text,
  -- the file's stored size, counted into that container's dead bytes
  bytes bigint not null default 0 check (bytes >= 0),
  deleted_at timestamptz not null default now(),
  -- when the last stored object holding the bytes was deleted, and how
  erased_at timestamptz,
  erased_by text,
  -- when the parent row moved to its purged status
  purged_at timestamptz
);
create index des_tombstones_shard on des_tombstones (shard, name);
create index des_tombstones_unerased on des_tombstones (container_id) where erased_at is null;
create index des_tombstones_unpurged on des_tombstones (deleted_at) where purged_at is null;

-- NOTIFY des_tombstone {"shard": n, "name": "…"} for every new tombstone.
create function des_notify_tombstone() returns trigger
language plpgsql as $$
begin
  perform pg_notify('des_tombstone', json_build_object('shard', new.shard, 'name', new.name)::text);
  return null;
end
$$;
create trigger des_tombstones_insert
  after insert on des_tombstones
  for each row execute function des_notify_tombstone();

-- Dead-byte accounting: files and bytes of a container whose names are tombstoned.
alter table des_containers
  add column dead_files integer not null default 0 check (dead_files >= 0),
  add column dead_bytes bigint not null default 0 check (dead_bytes >= 0),
  -- compaction: the container that replaced this one, and the ones this one replaced
  add column replaced_by text,
  add column compacted_from text[],
  -- retired: no longer visible, object kept until the grace period ends; deleted: object gone
  add column retired_at timestamptz,
  add column object_deleted_at timestamptz;

alter table des_containers drop constraint des_containers_state_check;
alter table des_containers add constraint des_containers_state_check check (state in (
  'building', 'uploaded', 'verified', 'committed', 'parent_updated', 'sources_released',
  'aborted', 'retired', 'deleted'
));

-- NOTIFY des_container_retired {"shard": n, "containerId": "…"} when a container stops
-- being visible (replaced by compaction).
create function des_notify_container_retired() returns trigger
language plpgsql as $$
begin
  perform pg_notify(
    'des_container_retired',
    json_build_object('shard', new.shard, 'containerId', new.container_id)::text
  );
  return null;
end
$$;
create trigger des_containers_retired_update
  after update of state on des_containers
  for each row when (new.state = 'retired' and old.state <> 'retired')
  execute function des_notify_container_retired();
