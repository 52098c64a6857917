#!/usr/bin/env bash
# rgw-down.sh DIR [--wipe|--kill] — stop the daemons scripts/rgw-up.sh started in DIR.
#
# Only pids recorded in DIR/pids are signalled, and only while their command line still names
# DIR/ceph.conf, so a recycled pid is never hit.
#   (default)  SIGTERM in reverse start order (radosgw drains for a few seconds), SIGKILL after 10 s
#   --kill     SIGKILL at once, keep DIR (rgw-up uses this before recreating a stale cluster)
#   --wipe     SIGKILL at once, then delete DIR if it carries rgw-up's marker
set -uo pipefail

readonly MARKER_NAME=".des-rgw"

[[ $# -ge 1 && -n "$1" ]] || {
  echo "usage: $0 DIR [--wipe|--kill]" >&2
  exit 2
}
MODE="${2:-}"
case "$MODE" in
"" | --wipe | --kill) ;;
*)
  echo "usage: $0 DIR [--wipe|--kill]" >&2
  exit 2
  ;;
esac
[[ -d "$1" ]] || {
  echo "rgw-down: $1 does not exist, nothing to stop" >&2
  exit 0
}
DIR="$(cd -- "$1" && pwd -P)"
CONF="$DIR/ceph.conf"

# ours PID: alive (not a zombie) and started with our ceph.conf
ours() {
  [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]] || return 1
  grep -qzxF -- "$CONF" "/proc/$1/cmdline" 2>/dev/null
}

signal=TERM
[[ -z "$MODE" ]] || signal=KILL
for name in rgw.a osd.0 mon.a; do
  file="$DIR/pids/$name"
  [[ -s "$file" ]] || continue
  pid="$(<"$file")"
  if ours "$pid"; then
    kill "-$signal" "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
      ours "$pid" || break
      sleep 0.1
    done
    if ours "$pid"; then
      kill -KILL "$pid" 2>/dev/null
      sleep 0.1
    fi
    echo "rgw-down: stopped $name (pid $pid)" >&2
  fi
  rm -f -- "$file"
done

if [[ "$MODE" == --wipe ]]; then
  if [[ -f "$DIR/$MARKER_NAME" ]]; then
    rm -rf -- "$DIR"
    echo "rgw-down: wiped $DIR" >&2
  else
    echo "rgw-down: $DIR carries no rgw-up marker, not deleting it" >&2
  fi
fi
exit 0
