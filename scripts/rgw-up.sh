#!/usr/bin/env bash
# rgw-up.sh DIR — start a throw-away S3 endpoint for DES development and tests: a one-monitor,
# one-memstore-OSD Ceph cluster plus radosgw (beast, tcp_nodelay=1), all on 127.0.0.1, no systemd.
# Takes about 3 s from an empty DIR. Must run as root (the Ceph daemons are started directly).
#
# Writes DIR/env (and prints it) as shell-sourceable lines:
#   DES_TEST_S3_ENDPOINT, DES_TEST_S3_ACCESS_KEY_ID, DES_TEST_S3_SECRET_ACCESS_KEY, DES_TEST_S3_REGION
# Stop it with scripts/rgw-down.sh DIR [--wipe|--kill].
#
# Knobs (environment):
#   RGW_PORT=7480             S3 port
#   RGW_MON_PORT=3300         monitor msgr-v2 port
#   RGW_MON_V1_PORT=6789      monitor msgr-v1 port
#   RGW_ACCESS_KEY / RGW_SECRET_KEY   credentials of the S3 user "des-test"
#   RGW_OBJECTSTORE=memstore  or bluestore (sparse file DIR/osd/ceph-0/block)
#   RGW_STORE_BYTES=4294967296  store capacity (memstore keeps every object in the OSD's RAM)
#   RGW_TIMEOUT=120           seconds to wait for each daemon
#   RGW_AUTO_INSTALL=0        1 = apt-get install the Ceph packages when missing
#
# Behaviour:
#   * DIR holds our cluster, all daemons alive, RGW answers on the same ports -> print env, exit 0
#   * DIR holds our cluster but it is stale (a daemon died, other ports)      -> kill, wipe, recreate
#   * DIR is non-empty and not ours                                           -> refuse, exit 2
#   * concurrent callers on one DIR are serialised with flock
#   * a busy port is an error (exit 1); on any failure the daemons started so far are killed
set -euo pipefail

readonly MARKER_NAME=".des-rgw"
readonly PACKAGES=(ceph-mon ceph-osd radosgw ceph-common)

log() { printf '[rgw-up %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[[ $# -ge 1 && -n "$1" ]] || {
  echo "usage: $0 DIR" >&2
  exit 2
}
mkdir -p -- "$1"
DIR="$(cd -- "$1" && pwd -P)"
SCRIPTS="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"

RGW_PORT="${RGW_PORT:-7480}"
MON_PORT="${RGW_MON_PORT:-3300}"
MON_V1_PORT="${RGW_MON_V1_PORT:-6789}"
ACCESS_KEY="${RGW_ACCESS_KEY:-DESTESTACCESSKEY0001}"
SECRET_KEY="${RGW_SECRET_KEY:-des-test-secret-key-0000000000000000000001}"
OBJECTSTORE="${RGW_OBJECTSTORE:-memstore}"
STORE_BYTES="${RGW_STORE_BYTES:-4294967296}"
TIMEOUT="${RGW_TIMEOUT:-120}"
ENDPOINT="http://127.0.0.1:$RGW_PORT"
CONF="$DIR/ceph.conf"
PORTS="$RGW_PORT $MON_PORT $MON_V1_PORT"

[[ $EUID -eq 0 ]] || die "must run as root (the Ceph daemons are started directly, without systemd)"
for p in $PORTS; do [[ "$p" =~ ^[0-9]+$ ]] || die "port '$p' is not a number"; done

# ---- packages ----------------------------------------------------------------------------------
missing_packages() {
  local tool pkg
  for pair in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw radosgw-admin:radosgw \
    ceph:ceph-common ceph-authtool:ceph-common monmaptool:ceph-common; do
    tool="${pair%%:*}" pkg="${pair##*:}"
    command -v "$tool" >/dev/null 2>&1 || echo "$pkg"
  done
  /usr/bin/python3 -c 'import rados' 2>/dev/null || echo ceph-common
}
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
    --no-install-recommends "${PACKAGES[@]}" >&2
}
missing="$(missing_packages | sort -u | tr '\n' ' ')"
if [[ -n "${missing// /}" ]]; then
  [[ "${RGW_AUTO_INSTALL:-0}" == 1 ]] ||
    die "missing packages: $missing(run: apt-get install -y --no-install-recommends ${PACKAGES[*]}, or set RGW_AUTO_INSTALL=1)"
  log "installing ${PACKAGES[*]}"
  apt_install || {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update >&2
    apt_install
  }
fi

# ---- functions -----------------------------------------------------------------------------------
write_env() {
  cat >"$DIR/env" <<EOF
DES_TEST_S3_ENDPOINT=$ENDPOINT
DES_TEST_S3_ACCESS_KEY_ID=$ACCESS_KEY
DES_TEST_S3_SECRET_ACCESS_KEY=$SECRET_KEY
DES_TEST_S3_REGION=us-east-1
RGW_DATA_DIR=$DIR
EOF
  cat "$DIR/env"
}

rgw_answers() { curl -fsS -o /dev/null --max-time 2 "$ENDPOINT/" 2>/dev/null; }

# daemon_alive NAME: the pid recorded for NAME is alive and was started with our ceph.conf
daemon_alive() {
  local file="$DIR/pids/$1" pid
  [[ -s "$file" ]] || return 1
  pid="$(<"$file")"
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]] || return 1
  grep -qzxF -- "$CONF" "/proc/$pid/cmdline" 2>/dev/null
}

cluster_healthy() {
  daemon_alive mon.a && daemon_alive osd.0 && daemon_alive rgw.a &&
    [[ "$(cat "$DIR/ports" 2>/dev/null)" == "$PORTS" ]] && rgw_answers
}

port_busy() { ss -Htln "sport = :$1" | grep -q .; }

# start_daemon NAME CMD...: run CMD in the foreground under setsid, detached; record its pid
start_daemon() {
  local name="$1"
  shift
  setsid "$@" </dev/null >"$DIR/log/$name.out" 2>&1 9<&- &
  echo $! >"$DIR/pids/$name"
  disown $! 2>/dev/null || true
}

# wait_for WHAT CMD...: poll CMD every 0.1 s until it succeeds or RGW_TIMEOUT passes
wait_for() {
  local what="$1" deadline=$((SECONDS + TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not come up within ${TIMEOUT}s (logs in $DIR/log)"
    sleep 0.1
  done
}

ceph_() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }
osd_up() { ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up'; }

# ---- one caller at a time; reuse, recreate or refuse -------------------------------------------
exec 9<"$DIR"
flock -w "$((TIMEOUT + 60))" 9 || die "could not lock $DIR"
if [[ -f "$DIR/$MARKER_NAME" ]]; then
  if cluster_healthy; then
    log "cluster in $DIR is already up"
    write_env
    exit 0
  fi
  log "stale cluster in $DIR: killing its daemons and recreating it"
  "$SCRIPTS/rgw-down.sh" "$DIR" --kill || true
  find "$DIR" -mindepth 1 -delete
elif [[ -n "$(ls -A "$DIR")" ]]; then
  echo "rgw-up: refusing to use $DIR: it is not empty and holds no cluster made by rgw-up.sh" >&2
  exit 2
fi

for p in $PORTS; do
  ! port_busy "$p" || die "port $p is already in use (choose others with RGW_PORT, RGW_MON_PORT, RGW_MON_V1_PORT)"
done

# ---- from here on a failure kills what was started; logs stay in DIR/log -----------------------
START=$EPOCHREALTIME
touch "$DIR/$MARKER_NAME"
UP=0
trap '((UP)) || { log "failed; killing the daemons started so far (logs in $DIR/log)"; "$SCRIPTS/rgw-down.sh" "$DIR" --kill || true; }' EXIT
echo "$PORTS" >"$DIR/ports"
mkdir -p "$DIR"/{run,log,pids,mon,osd/ceph-0,rgw,crash}
FSID="$(</proc/sys/kernel/random/uuid)"
OSD_UUID="$(</proc/sys/kernel/random/uuid)"
MON_ADDR="[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]"

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon initial members = a
mon host = $MON_ADDR
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$cluster-\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = $OBJECTSTORE
memstore device bytes = $STORE_BYTES
bluestore block size = $STORE_BYTES
bluestore block create = true
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096
# one OSD: pools of size 1, few PGs, no autoscaler, no mgr
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd crush initial weight = 1
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon mgr mkfs grace = 315360000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 2
mon data avail crit = 1
# monitor commands answer in milliseconds instead of one second each
paxos propose interval = 0.05
paxos min wait = 0.01
debug ms = 0
debug monc = 0

[client.rgw.a]
# tcp_nodelay: without it every small GET waits ~40 ms (Nagle meets delayed ACK)
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw thread pool size = 64
# a throw-away store in RAM: free deleted objects within seconds, not the default 2 hours
rgw gc obj min wait = 5
rgw gc processor period = 10
rgw gc processor max time = 10
rgw dns name = 127.0.0.1
debug rgw = 1
EOF

log "keyring and monmap"
KEYRING="$DIR/keyring"
ceph-authtool --create-keyring "$KEYRING" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$KEYRING" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$KEYRING" --gen-key -n osd.0 \
  --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
ceph-authtool "$KEYRING" --gen-key -n client.rgw.a \
  --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
chmod 600 "$KEYRING"
monmaptool --create --fsid "$FSID" --addv a "$MON_ADDR" "$DIR/monmap" >/dev/null

log "monitor"
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$KEYRING" \
  >"$DIR/log/mon-mkfs.out" 2>&1 || die "ceph-mon --mkfs failed: $(tail -5 "$DIR/log/mon-mkfs.out")"
start_daemon mon.a ceph-mon -c "$CONF" -f -i a
wait_for "the monitor" ceph_ mon stat

log "osd.0 ($OBJECTSTORE) and the RGW pools"
# One librados connection registers osd.0 and creates the pools RGW would otherwise create one at a
# time on first use. /usr/bin/python3 because the rados module belongs to the system Python.
OSD_ID="$(/usr/bin/python3 - "$CONF" "$OSD_UUID" <<'PY'
import json, sys, rados
cluster = rados.Rados(conffile=sys.argv[1], name="client.admin")
cluster.connect(timeout=30)
def mon(**command):
    rc, out, err = cluster.mon_command(json.dumps(command), b"", timeout=30)
    if rc not in (0, -17):
        raise SystemExit(f"{command['prefix']}: rc={rc} {err}")
    return out
osd_id = json.loads(mon(prefix="osd new", uuid=sys.argv[2], format="json"))["osdid"]
for pool in [".rgw.root", "default.rgw.log", "default.rgw.control", "default.rgw.meta",
             "default.rgw.buckets.index", "default.rgw.buckets.data", "default.rgw.buckets.non-ec"]:
    mon(prefix="osd pool create", pool=pool, pg_num=8, pgp_num=8)
    mon(prefix="osd pool application enable", pool=pool, app="rgw", yes_i_really_mean_it=True)
print(osd_id)
PY
)" || die "registering osd.0 and creating pools failed"
[[ "$OSD_ID" == 0 ]] || die "expected osd id 0, got '$OSD_ID'"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd-mkfs.out" 2>&1 ||
  die "ceph-osd --mkfs failed: $(tail -5 "$DIR/log/osd-mkfs.out")"
start_daemon osd.0 ceph-osd -c "$CONF" -f -i 0
wait_for "osd.0" osd_up

log "radosgw on $ENDPOINT"
start_daemon rgw.a radosgw -c "$CONF" -f -n client.rgw.a
deadline=$((SECONDS + TIMEOUT))
until rgw_answers; do
  daemon_alive rgw.a || die "radosgw exited: $(tail -5 "$DIR/log/client.rgw.a.log" 2>/dev/null)"
  ((SECONDS < deadline)) || die "radosgw did not answer within ${TIMEOUT}s"
  sleep 0.1
done

log "S3 user des-test"
radosgw-admin -c "$CONF" -n client.admin user create --uid des-test --display-name "DES test" \
  --access-key "$ACCESS_KEY" --secret "$SECRET_KEY" >"$DIR/log/user-create.out" 2>&1 ||
  die "radosgw-admin user create failed: $(tail -5 "$DIR/log/user-create.out")"

UP=1
log "$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "ready in %.2f s", b - a }')"
write_env
