#!/usr/bin/env bash
# ensure_postgres.sh — make sure PostgreSQL answers on 127.0.0.1:5432 (the test database server).
# Starts the local Debian cluster(s) without systemd when it does not answer; exits 1 with advice
# when it still does not answer after 30 s.
set -euo pipefail

HOST="${PGHOST_CHECK:-127.0.0.1}"
PORT="${PGPORT_CHECK:-5432}"

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$HOST" -p "$PORT" -t 2
  else
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
  fi
}

answers && exit 0
if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
  for version in /etc/postgresql/*; do
    [[ -d "$version/main" ]] || continue
    echo "ensure_postgres: starting PostgreSQL $(basename "$version")" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start >&2 || true
  done
fi
for _ in $(seq 1 60); do
  answers && exit 0
  sleep 0.5
done
cat >&2 <<EOF2
ensure_postgres: PostgreSQL does not answer on $HOST:$PORT.
Install and start it (apt-get install -y postgresql; pg_ctlcluster --skip-systemctl-redirect VERSION main start)
and allow trust auth for user postgres from 127.0.0.1 in pg_hba.conf, or point DES_TEST_DATABASE_URL elsewhere.
EOF2
exit 1
