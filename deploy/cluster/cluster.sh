#!/usr/bin/env bash
# The notes service on "more than one machine", all on 127.0.0.1: an etcd of three members,
# two PostgreSQL members under Patroni (one leads, the other is its synchronous replica),
# PgBouncer, app instances under gunicorn, and HAProxy in front of the instances and of
# PostgreSQL (the leader on one port, the replica on another).
#
#   cluster.sh up               install what is missing, start whatever is not running, return
#                               once the balancer answers /health/ready with 200 and every
#                               database member runs (a running cluster is kept: a member
#                               that was lost comes back, a former primary as a replica)
#   cluster.sh down             stop everything `up` started and delete its data, etcd's too
#   cluster.sh app-start N      start instance N (1, 2, ...) again and put it back in the balancer
#   cluster.sh drain N          take instance N out of the balancer, let its requests finish, stop it
#   cluster.sh member-start N   start database member N (1, 2) under Patroni again, and return
#                               once every member runs, one of them as the synchronous standby
#   cluster.sh member-stop N    stop database member N: its Patroni stops its PostgreSQL
#   cluster.sh status           what runs, and which member leads
#   cluster.sh backup [TYPE]    take a backup (full, diff or incr; full by default) from the
#                               leader, then check the repository and list its backups
#   cluster.sh backups          list the backups in the repository
#   cluster.sh restore TARGET   bring the whole cluster back to TARGET (a timestamp with its zone,
#                               or latest) from the repository: asks first, or CONFIRM=yes
#   cluster.sh backup-delete    delete the backup repository (asks first, or CONFIRM=yes), once
#                               the cluster is stopped
#
# Ports and places come from the environment (defaults in brackets): CLUSTER_MEMBER_PORTS
# ["5442 5443"] and CLUSTER_PATRONI_PORTS ["8008 8009"] for the members' PostgreSQL and
# Patroni's REST API, CLUSTER_ETCD_PORTS ["2391 2392 2393"] and CLUSTER_ETCD_PEER_PORTS
# ["2491 2492 2493"], CLUSTER_PRIMARY_PORT [5440] and CLUSTER_REPLICA_PORT [5441] for HAProxy's
# PostgreSQL frontends, CLUSTER_PGBOUNCER_PORT [6432], CLUSTER_APP_PORTS ["8001 8002"],
# CLUSTER_BALANCER_PORT [8080], CLUSTER_REDIS_URL [$REDIS_URL, else db 0 on :6379],
# CLUSTER_RUN_DIR [/tmp/notes-cluster]; Patroni's timing CLUSTER_PATRONI_TTL [10],
# CLUSTER_PATRONI_LOOP_WAIT [2], CLUSTER_PATRONI_RETRY_TIMEOUT [4]. The instances take every
# other setting (rate limits, DATABASE_REPLICA_MAX_LAG, ...) from the environment of `up` or
# `app-start`. Backups (pgBackRest, docs/backups.md): CLUSTER_BACKUP_DIR [/var/lib/notes-backups],
# kept by `down`; CLUSTER_BACKUP_RETENTION_FULL [2] full backups kept; CLUSTER_ARCHIVE_TIMEOUT [10]
# seconds at most between two archived WAL segments while writes go on. Needs root: it installs
# packages and runs PostgreSQL as the user postgres.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${CLUSTER_PYTHON:-$ROOT/.venv/bin/python}"
export PATH="$PATH:/usr/sbin:/sbin"

export CLUSTER_PRIMARY_PORT="${CLUSTER_PRIMARY_PORT:-5440}"
export CLUSTER_REPLICA_PORT="${CLUSTER_REPLICA_PORT:-5441}"
export CLUSTER_PGBOUNCER_PORT="${CLUSTER_PGBOUNCER_PORT:-6432}"
export CLUSTER_BALANCER_PORT="${CLUSTER_BALANCER_PORT:-8080}"
export CLUSTER_RUN_DIR="${CLUSTER_RUN_DIR:-/tmp/notes-cluster}"
export CLUSTER_SERVER_MAXCONN="${CLUSTER_SERVER_MAXCONN:-16}"
# Patroni: the leader key's time to live, the seconds between two rounds of each member's
# loop, and how long etcd or PostgreSQL may fail to answer before the leader steps down.
export CLUSTER_PATRONI_TTL="${CLUSTER_PATRONI_TTL:-10}"
export CLUSTER_PATRONI_LOOP_WAIT="${CLUSTER_PATRONI_LOOP_WAIT:-2}"
export CLUSTER_PATRONI_RETRY_TIMEOUT="${CLUSTER_PATRONI_RETRY_TIMEOUT:-4}"
export CLUSTER_SYNCHRONOUS_MODE="${CLUSTER_SYNCHRONOUS_MODE:-true}"
# The backup repository: outside the run directory, so that `down` keeps it.
export CLUSTER_BACKUP_DIR="${CLUSTER_BACKUP_DIR:-/var/lib/notes-backups}"
export CLUSTER_BACKUP_RETENTION_FULL="${CLUSTER_BACKUP_RETENTION_FULL:-2}"
export CLUSTER_ARCHIVE_TIMEOUT="${CLUSTER_ARCHIVE_TIMEOUT:-10}"
# How a new cluster's first member is made (patroni.yml): initdb, or `restore` below.
export CLUSTER_BOOTSTRAP_METHOD=initdb CLUSTER_RESTORE_SET="" CLUSTER_RESTORE_TARGET_TIME=""
# Server-side timeouts of pooled connections (milliseconds), and how long (seconds) a
# client of PgBouncer waits for a server connection before it gets an error.
export CLUSTER_CONNECT_QUERY="SET statement_timeout = ${CLUSTER_STATEMENT_TIMEOUT_MS:-10000}; SET lock_timeout = ${CLUSTER_LOCK_TIMEOUT_MS:-5000}; SET idle_in_transaction_session_timeout = ${CLUSTER_IDLE_IN_TRANSACTION_TIMEOUT_MS:-60000}"
export CLUSTER_QUERY_WAIT_TIMEOUT="${CLUSTER_QUERY_WAIT_TIMEOUT:-5}"
export PGBOUNCER_DIR="$CLUSTER_RUN_DIR/pgbouncer"
read -r -a APP_PORTS <<<"${CLUSTER_APP_PORTS:-8001 8002}"
read -r -a MEMBER_PORTS <<<"${CLUSTER_MEMBER_PORTS:-5442 5443}"
read -r -a PATRONI_PORTS <<<"${CLUSTER_PATRONI_PORTS:-8008 8009}"
read -r -a ETCD_PORTS <<<"${CLUSTER_ETCD_PORTS:-2391 2392 2393}"
read -r -a ETCD_PEER_PORTS <<<"${CLUSTER_ETCD_PEER_PORTS:-2491 2492 2493}"
CLUSTER_ETCD_HOSTS="$(printf '127.0.0.1:%s,' "${ETCD_PORTS[@]}")"
export CLUSTER_ETCD_HOSTS="${CLUSTER_ETCD_HOSTS%,}"
REDIS="${CLUSTER_REDIS_URL:-${REDIS_URL:-redis://127.0.0.1:6379/0}}"
RUN="$CLUSTER_RUN_DIR"
DATABASE=notes
URL="postgres://postgres:postgres@127.0.0.1"

say() { echo "cluster: $(date +%T) $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

pg_version() {
  [ -n "${CLUSTER_PG_VERSION:-}" ] && { echo "$CLUSTER_PG_VERSION"; return; }
  ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1
}

install_missing() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  [ -n "$(pg_version)" ] || missing+=(postgresql)
  command -v patroni >/dev/null || missing+=(patroni)
  # The server alone: Debian's etcd-client (etcdctl) is not needed.
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v curl >/dev/null || missing+=(curl)
  command -v pgbackrest >/dev/null || missing+=(pgbackrest)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}"
}

render() {  # a template with ${VARS} filled in from the environment
  "$PY" -c 'import os, string, sys; print(string.Template(open(sys.argv[1]).read()).substitute(os.environ), end="")' "$1"
}

wait_until() {  # seconds, description, command...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up (logs in $RUN)"
    sleep 0.2
  done
}

ready() { curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$1/health/ready"; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_free() {  # port, what is to listen there: dies when something else already does
  ! listening "$1" || die "port $1 (for $2) is taken by a process this cluster did not start"
}

# --- processes started here (each records its pid in the run directory) -----------------

running() {  # pid file, process name: whether that process (still) runs
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && grep -qa "$2" "/proc/$(cat "$1")/cmdline"
}

stop_pid() {  # pid file, process name it must have, signal; waits for it to end
  local file=$1 name=$2 signal=$3 pid
  if running "$file" "$name"; then
    pid="$(cat "$file")"
    kill "-$signal" "$pid"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$file"
}

# --- etcd: three members, so the leader key survives the loss of any one -------------------

etcd_start() {  # member number
  local n=$1 i peers=""
  local name="etcd$n" client="${ETCD_PORTS[$((n - 1))]}" peer="${ETCD_PEER_PORTS[$((n - 1))]}"
  running "$RUN/$name.pid" etcd && return
  port_free "$client" "$name"
  port_free "$peer" "$name"
  for i in $(seq ${#ETCD_PORTS[@]}); do
    peers+="${peers:+,}etcd$i=http://127.0.0.1:${ETCD_PEER_PORTS[$((i - 1))]}"
  done
  say "etcd member $name on $client (peers on $peer)"
  mkdir -p "$RUN/etcd"
  # The --initial-* flags count only the first time; after that the member's data
  # directory says which cluster it belongs to, and it rejoins it.
  (exec setsid etcd --name "$name" --data-dir "$RUN/etcd/$name" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$peers" --initial-cluster-token notes-cluster --initial-cluster-state new \
    --log-level warn) >>"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

etcd_healthy() {  # a quorum answers: the health endpoint of any member says so
  local port
  for port in "${ETCD_PORTS[@]}"; do
    curl -fsS -m 2 "http://127.0.0.1:$port/health" | grep -q '"health":"true"' && return 0
  done
  return 1
}

# --- PostgreSQL under Patroni ----------------------------------------------------------------

member_dir() { echo "$RUN/pg$1"; }

shared_config() {  # what every member reads: postgresql.conf and pg_hba.conf, in the run directory
  render "$HERE/postgresql.conf" >"$RUN/postgresql.conf"
  cp "$HERE/pg_hba.conf" "$RUN/pg_hba.conf"
  chmod 644 "$RUN/postgresql.conf" "$RUN/pg_hba.conf"
}

patroni_config() {  # member number: renders its patroni.yml and pgbackrest.conf, for postgres
  local n=$1 dir
  dir="$(member_dir "$n")"
  mkdir -p "$dir" "$RUN/pgbackrest" "$CLUSTER_BACKUP_DIR"
  local -x MEMBER="pg$n" MEMBER_DIR="$dir" MEMBER_PG_PORT="${MEMBER_PORTS[$((n - 1))]}"
  CLUSTER_PG_BIN="/usr/lib/postgresql/$(pg_version)/bin" MEMBER_API_PORT="${PATRONI_PORTS[$((n - 1))]}" \
    render "$HERE/patroni.yml" >"$dir/patroni.yml"
  render "$HERE/pgbackrest.conf" >"$dir/pgbackrest.conf"
  chown -R postgres: "$dir" "$RUN/pgbackrest"
  chown postgres: "$CLUSTER_BACKUP_DIR"
  chmod 750 "$CLUSTER_BACKUP_DIR"
}

postmaster_runs() {  # member number: whether its PostgreSQL runs (with or without its Patroni)
  local pidfile
  pidfile="$(member_dir "$1")/data/postmaster.pid"
  [ -f "$pidfile" ] && kill -0 "$(head -n 1 "$pidfile")" 2>/dev/null
}

member_start() {  # member number
  local n=$1
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le ${#MEMBER_PORTS[@]} ] || die "no member $n"
  if running "$RUN/pg$n.pid" patroni; then
    say "member pg$n already runs"
    return
  fi
  port_free "${PATRONI_PORTS[$((n - 1))]}" "Patroni of pg$n"
  # A PostgreSQL left running by a Patroni that died is taken over by the new one.
  postmaster_runs "$n" || port_free "${MEMBER_PORTS[$((n - 1))]}" "PostgreSQL of pg$n"
  say "member pg$n: PostgreSQL on ${MEMBER_PORTS[$((n - 1))]} under Patroni (REST API on ${PATRONI_PORTS[$((n - 1))]})"
  patroni_config "$n"
  # Patroni runs as postgres, like the PostgreSQL it starts; setpriv execs (no parent
  # left behind), so the recorded pid is Patroni's own.
  (cd "$(member_dir "$n")" && exec setsid setpriv --reuid postgres --regid postgres --init-groups \
    env HOME="$(member_dir "$n")" patroni patroni.yml) >>"$RUN/pg$n.log" 2>&1 </dev/null &
  echo $! >"$RUN/pg$n.pid"
}

postmaster_stop() {  # member number, signal: INT is a fast shutdown, QUIT an immediate one
  local n=$1 pid
  postmaster_runs "$n" || return 0
  pid="$(head -n 1 "$(member_dir "$n")/data/postmaster.pid")"
  kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid"
}

member_stop() {  # member number: Patroni stops its PostgreSQL (fast), then exits
  local n=$1
  say "stopping member pg$n"
  stop_pid "$RUN/pg$n.pid" patroni TERM
  postmaster_stop "$n" INT  # when its Patroni was gone already
}

member_kill() {  # member number: for `down`, which deletes the data anyway
  # Patroni first, so it restarts nothing; then PostgreSQL's immediate shutdown, which
  # still ends every process and frees its shared memory.
  stop_pid "$RUN/pg$1.pid" patroni KILL
  postmaster_stop "$1" QUIT
}

patroni_api() {  # member number, path: the answer of that member's Patroni
  curl -fsS -m 2 "http://127.0.0.1:${PATRONI_PORTS[$(($1 - 1))]}$2"
}

leader() {  # the number of the member Patroni made leader, if any
  local n
  for n in $(seq ${#MEMBER_PORTS[@]}); do
    patroni_api "$n" /primary >/dev/null 2>&1 && { echo "$n"; return 0; }
  done
  return 1
}

all_members_run() {  # every member running, and with two or more, a synchronous standby
  local n members
  for n in $(seq ${#MEMBER_PORTS[@]}); do
    members="$(patroni_api "$n" /cluster)" && break
  done
  "$PY" -c 'import json, sys
members = json.loads(sys.argv[1])["members"]
running = [m for m in members if m["state"] in ("running", "streaming")]
sync = [m for m in members if m["role"] == "sync_standby"]
wanted, synchronous = int(sys.argv[2]), sys.argv[3] == "true"
sys.exit(not (len(running) == wanted and (wanted == 1 or sync or not synchronous)))' \
    "${members:-"{}"}" "${#MEMBER_PORTS[@]}" "$CLUSTER_SYNCHRONOUS_MODE"
}

start_members() {
  local n
  if [ ! -d "$(member_dir 1)/data" ] && ! leader >/dev/null; then
    # A new cluster: the first member initializes it (initdb) and leads; the others
    # then copy it (pg_basebackup) and follow. Never over the backups of another one.
    [ -n "$(backup_labels)" ] && die "the backup repository $CLUSTER_BACKUP_DIR holds backups of an \
earlier cluster: \`make restore TARGET=latest\` brings it back, \`make backup-delete\` removes them"
    member_start 1
    wait_until 90 "a leader (pg1)" leader
  fi
  for n in $(seq ${#MEMBER_PORTS[@]}); do member_start "$n"; done
  wait_until 90 "a leader" leader
}

primary_frontend_ready() {  # HAProxy has checked every member for 5440, and one leads
  # (until its first check, HAProxy counts a server up: a fresh HAProxy may still lead
  # a connection to a member that is not the primary).
  haproxy_cmd "show stat" | awk -F, '$1 == "postgres_primary" && $2 != "FRONTEND" && $2 != "BACKEND" {
      servers++; if ($37 ~ /^L[47]/) checked++; if ($18 == "UP") up++ }
    END { exit !(servers > 0 && checked == servers && up > 0) }'
}

ensure_database() {  # on the leader, through HAProxy's frontend for it
  wait_until 60 "the primary through HAProxy" primary_frontend_ready
  local exists
  exists="$(psql -h 127.0.0.1 -p "$CLUSTER_PRIMARY_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")"
  [ "$exists" = 1 ] || psql -h 127.0.0.1 -p "$CLUSTER_PRIMARY_PORT" -U postgres -qc \
    "CREATE DATABASE $DATABASE ENCODING 'UTF8' TEMPLATE template0"
}

# --- PgBouncer, the instances and HAProxy ---------------------------------------------------

start_pgbouncer() {
  running "$PGBOUNCER_DIR/pgbouncer.pid" pgbouncer && return
  port_free "$CLUSTER_PGBOUNCER_PORT" PgBouncer
  say "PgBouncer on $CLUSTER_PGBOUNCER_PORT (transaction pooling)"
  mkdir -p "$PGBOUNCER_DIR"
  render "$HERE/pgbouncer.ini" >"$PGBOUNCER_DIR/pgbouncer.ini"
  echo '"postgres" "postgres"' >"$PGBOUNCER_DIR/userlist.txt"
  chown -R postgres: "$PGBOUNCER_DIR"
  chmod 700 "$PGBOUNCER_DIR"
  pgbouncer -q -d -u postgres "$PGBOUNCER_DIR/pgbouncer.ini"
  wait_until 20 PgBouncer pg_isready -q -h 127.0.0.1 -p "$CLUSTER_PGBOUNCER_PORT"
}

write_instance_env() {  # once: instances started later share the running ones' settings
  [ -f "$RUN/instance.env" ] && return
  "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$RUN/secret_key"
  # The primary and the replicas are HAProxy's PostgreSQL frontends, whichever
  # member Patroni made leader; writes go through PgBouncer, `migrate` directly.
  # Nothing more: the app finds PgBouncer by itself (no prepared statements through
  # it; the timeouts are its connect_query's).
  cat >"$RUN/instance.env" <<EOF
DEBUG=false
SECRET_KEY=$(cat "$RUN/secret_key")
HOST=127.0.0.1
DATABASE_URL=$URL:$CLUSTER_PGBOUNCER_PORT/$DATABASE
DATABASE_DIRECT_URL=$URL:$CLUSTER_PRIMARY_PORT/$DATABASE
DATABASE_REPLICA_URL=$URL:$CLUSTER_REPLICA_PORT/$DATABASE
REDIS_URL=$REDIS
NUM_PROXIES=1
WEB_CONCURRENCY=${CLUSTER_WEB_CONCURRENCY:-2}
EOF
}

manage() { (set -a && . "$RUN/instance.env" && set +a && cd "$ROOT" && "$PY" manage.py "$@"); }

app_port() {
  local n=$1
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le ${#APP_PORTS[@]} ] || die "no instance $n"
  echo "${APP_PORTS[$((n - 1))]}"
}

app_launch() {  # instance number: started unless it runs, not waited for
  local n=$1 port
  port="$(app_port "$n")"
  if running "$RUN/app$n.pid" gunicorn; then
    say "instance app$n already runs"
    return
  fi
  port_free "$port" "instance app$n"
  # Left by a killed master: gunicorn refuses to start while its pid names a live process,
  # and after a kill that pid may already be another program's.
  rm -f "$RUN/app$n.pid"
  say "instance app$n on $port"
  # Its own session, so the instance (master and workers) can be signalled as one group.
  (set -a && . "$RUN/instance.env" && set +a && cd "$ROOT" && PORT=$port exec setsid \
    "$PY" -m gunicorn --config gunicorn.conf.py --pid "$RUN/app$n.pid" \
    --control-socket "$RUN/app$n.ctl") \
    >>"$RUN/app$n.log" 2>&1 </dev/null &
}

app_start() {  # instance number: started unless it runs, ready, and in the balancer
  app_launch "$1"
  app_ready "$1"
}

app_ready() {  # instance number: waits until it is ready, and puts it in the balancer
  local n=$1 backend
  wait_until 60 "instance app$n" ready "$(app_port "$n")"
  if [ -S "$RUN/haproxy.sock" ]; then
    for backend in instances instances_live; do
      haproxy_cmd "set server $backend/app$n state ready" >/dev/null
    done
  fi
  return 0
}

haproxy_cmd() {
  "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().read(), end="")' "$RUN/haproxy.sock" "$1"
}

start_haproxy() {  # it fronts PostgreSQL too, so it starts before PgBouncer and the instances
  running "$RUN/haproxy.pid" haproxy && return
  local n port servers="" pg_servers=""
  for port in "$CLUSTER_BALANCER_PORT" "$CLUSTER_PRIMARY_PORT" "$CLUSTER_REPLICA_PORT"; do
    port_free "$port" HAProxy
  done
  say "HAProxy on $CLUSTER_BALANCER_PORT; PostgreSQL's leader on $CLUSTER_PRIMARY_PORT, replicas on $CLUSTER_REPLICA_PORT"
  for n in $(seq ${#APP_PORTS[@]}); do
    servers+="    server app$n 127.0.0.1:${APP_PORTS[$((n - 1))]}"$'\n'
  done
  for n in $(seq ${#MEMBER_PORTS[@]}); do
    pg_servers+="    server pg$n 127.0.0.1:${MEMBER_PORTS[$((n - 1))]} check port ${PATRONI_PORTS[$((n - 1))]}"$'\n'
  done
  CLUSTER_SERVERS="$servers" CLUSTER_PG_SERVERS="$pg_servers" render "$HERE/haproxy.cfg" >"$RUN/haproxy.cfg"
  haproxy -c -q -f "$RUN/haproxy.cfg"
  (exec setsid haproxy -W -f "$RUN/haproxy.cfg" -p "$RUN/haproxy.pid") \
    >>"$RUN/haproxy.log" 2>&1 </dev/null &
  wait_until 30 HAProxy listening "$CLUSTER_BALANCER_PORT"
}

# --- commands ---------------------------------------------------------------------------

up() {
  [ "$(id -u)" -eq 0 ] || die "run as root: it installs packages and runs PostgreSQL as postgres"
  [ -x "$PY" ] || die "no Python at $PY (make .venv/.installed, or set CLUSTER_PYTHON)"
  install_missing
  [ -x "/usr/lib/postgresql/$(pg_version)/bin/pg_ctl" ] || die "no PostgreSQL installed"
  mkdir -p "$RUN"
  write_instance_env
  # The instances serve their own static files; collected once per cluster.
  [ -f "$RUN/seeded" ] || manage collectstatic --noinput --verbosity 0 &
  local static_made=$! n
  shared_config
  for n in $(seq ${#ETCD_PORTS[@]}); do etcd_start "$n"; done
  wait_until 30 "an etcd quorum" etcd_healthy
  start_members
  # Archiving starts with the leader; it succeeds once the repository has the stanza.
  pgbackrest_as "$(leader)" stanza-create  # a no-op once it holds this cluster
  start_haproxy
  ensure_database
  start_pgbouncer
  if [ ! -f "$RUN/seeded" ]; then  # once per cluster: a running one has its schema
    say "migrate (over the direct connection), seed"
    manage migrate --noinput
    manage seed
    touch "$RUN/seeded"
  fi
  first_backup
  wait "$static_made"
  for n in $(seq ${#APP_PORTS[@]}); do app_launch "$n"; done
  for n in $(seq ${#APP_PORTS[@]}); do app_ready "$n"; done
  wait_until 60 "the balancer" ready "$CLUSTER_BALANCER_PORT"
  wait_until 120 "every database member, one of them a synchronous standby" all_members_run
  say "up: http://127.0.0.1:$CLUSTER_BALANCER_PORT/ (run directory $RUN)"
}

down() {
  # Everything goes at once, so nothing is drained: quick shutdowns, side by side, and
  # none of the data is kept (`drain` and `member-stop` are the graceful ways to stop
  # one instance or one member).
  stop_pid "$RUN/haproxy.pid" haproxy TERM &
  local n
  for n in $(seq ${#APP_PORTS[@]}); do stop_pid "$RUN/app$n.pid" gunicorn QUIT & done
  stop_pid "$PGBOUNCER_DIR/pgbouncer.pid" pgbouncer TERM &
  for n in $(seq ${#MEMBER_PORTS[@]}); do member_kill "$n" & done
  for n in $(seq ${#ETCD_PORTS[@]}); do stop_pid "$RUN/etcd$n.pid" etcd KILL & done
  wait
  rm -rf "$RUN"
}

drain() {
  local n=$1 sessions
  app_port "$n" >/dev/null
  say "draining app$n"
  haproxy_cmd "set server instances/app$n state drain" >/dev/null
  haproxy_cmd "set server instances_live/app$n state drain" >/dev/null
  for _ in $(seq 300); do
    sessions="$(haproxy_cmd "show stat" | awk -F, -v s="app$n" '$1 ~ /^instances/ && $2 == s {n += $5} END {print n}')"
    [ "${sessions:-0}" -eq 0 ] && break
    sleep 0.1
  done
  stop_pid "$RUN/app$n.pid" gunicorn TERM
}

status() {
  local file n
  for n in $(seq ${#MEMBER_PORTS[@]}); do
    [ -f "$(member_dir "$n")/patroni.yml" ] && { patronictl -c "$(member_dir "$n")/patroni.yml" list || true; break; }
  done
  for file in "$RUN"/*.pid "$PGBOUNCER_DIR"/pgbouncer.pid; do
    [ -f "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null && echo "running: $(basename "$file" .pid)"
  done
  [ -S "$RUN/haproxy.sock" ] && haproxy_cmd "show servers state"
  return 0
}

. "$HERE/backup.sh"

case "${1:-}" in
  up) up ;;
  backup) backup "${2:-full}" ;;
  backups) pgbackrest_as 1 info ;;
  restore) restore "${2:-}" ;;
  backup-delete) backup_delete ;;
  down) down ;;
  app-start) app_start "${2:?instance number}" ;;
  drain) drain "${2:?instance number}" ;;
  member-start)
    member_start "${2:?member number}"
    wait_until 120 "every database member, one of them a synchronous standby" all_members_run
    ;;
  member-stop) member_stop "${2:?member number}" ;;
  status) status ;;
  *) sed -n '2,39p' "$0" >&2; exit 2 ;;
esac
