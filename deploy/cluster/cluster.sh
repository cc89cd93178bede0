#!/usr/bin/env bash
# The notes service on "more than one machine", all on 127.0.0.1: a PostgreSQL primary and
# its streaming replica, PgBouncer, app instances under gunicorn, and HAProxy in front.
#
#   cluster.sh up           install what is missing, start everything, return once the
#                           balancer answers /health/ready with 200 (a previous cluster is
#                           stopped first)
#   cluster.sh down         stop everything `up` started and drop both PostgreSQL clusters
#   cluster.sh app-start N  start instance N (1, 2, ...) again and put it back in the balancer
#   cluster.sh drain N      take instance N out of the balancer, let its requests finish, stop it
#   cluster.sh status       what runs
#
# Ports and places come from the environment (defaults in brackets): CLUSTER_PRIMARY_PORT
# [5442], CLUSTER_REPLICA_PORT [5443], CLUSTER_PGBOUNCER_PORT [6432], CLUSTER_APP_PORTS
# ["8001 8002"], CLUSTER_BALANCER_PORT [8080], CLUSTER_REDIS_URL [$REDIS_URL, else db 0 on :6379],
# CLUSTER_RUN_DIR [/tmp/notes-cluster]. The instances take every other setting (rate limits,
# DATABASE_REPLICA_MAX_LAG, ...) from the environment of `up` or `app-start`. Needs root:
# it installs packages and creates PostgreSQL clusters.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${CLUSTER_PYTHON:-$ROOT/.venv/bin/python}"
export PATH="$PATH:/usr/sbin:/sbin"

export CLUSTER_PRIMARY_PORT="${CLUSTER_PRIMARY_PORT:-5442}"
export CLUSTER_REPLICA_PORT="${CLUSTER_REPLICA_PORT:-5443}"
export CLUSTER_PGBOUNCER_PORT="${CLUSTER_PGBOUNCER_PORT:-6432}"
export CLUSTER_BALANCER_PORT="${CLUSTER_BALANCER_PORT:-8080}"
export CLUSTER_RUN_DIR="${CLUSTER_RUN_DIR:-/tmp/notes-cluster}"
export CLUSTER_SERVER_MAXCONN="${CLUSTER_SERVER_MAXCONN:-16}"
# Server-side timeouts of pooled connections (milliseconds).
export CLUSTER_CONNECT_QUERY="SET statement_timeout = ${CLUSTER_STATEMENT_TIMEOUT_MS:-10000}; SET lock_timeout = ${CLUSTER_LOCK_TIMEOUT_MS:-5000}; SET idle_in_transaction_session_timeout = ${CLUSTER_IDLE_IN_TRANSACTION_TIMEOUT_MS:-60000}"
export PGBOUNCER_DIR="$CLUSTER_RUN_DIR/pgbouncer"
read -r -a APP_PORTS <<<"${CLUSTER_APP_PORTS:-8001 8002}"
REDIS="${CLUSTER_REDIS_URL:-${REDIS_URL:-redis://127.0.0.1:6379/0}}"
RUN="$CLUSTER_RUN_DIR"
DATABASE=notes
PRIMARY=notes_primary
REPLICA=notes_replica
URL="postgres://postgres:postgres@127.0.0.1"

say() { echo "cluster: $(date +%T) $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

pg_version() {
  [ -n "${CLUSTER_PG_VERSION:-}" ] && { echo "$CLUSTER_PG_VERSION"; return; }
  ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

install_missing() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  command -v pg_createcluster >/dev/null || missing+=(postgresql)
  command -v curl >/dev/null || missing+=(curl)
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

# --- PostgreSQL ---------------------------------------------------------------------------

cluster_exists() { pg_lsclusters -h 2>/dev/null | awk -v c="$1" '$2 == c {found=1} END {exit !found}'; }

pg_cluster() {  # name, port: a new cluster with the cluster's settings, not started
  local version
  version="$(pg_version)"
  pg_createcluster "$version" "$1" -p "$2" --start-conf manual -e UTF8 --locale C.UTF-8 >/dev/null
  cp "$HERE/postgresql.conf" "/etc/postgresql/$version/$1/conf.d/notes-cluster.conf"
  cp "$HERE/pg_hba.conf" "/etc/postgresql/$version/$1/pg_hba.conf"
}

pg_start() { pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" "$1" start; }

start_primary() {
  say "PostgreSQL $PRIMARY on $CLUSTER_PRIMARY_PORT"
  pg_cluster "$PRIMARY" "$CLUSTER_PRIMARY_PORT"
  pg_start "$PRIMARY"
  psql -h 127.0.0.1 -p "$CLUSTER_PRIMARY_PORT" -U postgres -qc \
    "CREATE DATABASE $DATABASE ENCODING 'UTF8' TEMPLATE template0"
}

start_replica() {  # its cluster made by pg_cluster already
  say "PostgreSQL $REPLICA on $CLUSTER_REPLICA_PORT, streaming from $PRIMARY"
  local data
  data="$(pg_lsclusters -h | awk -v c="$REPLICA" '$2 == c {print $6}')"
  find "$data" -mindepth 1 -delete
  # -R writes standby.signal and primary_conninfo: the copy starts as a streaming replica.
  runuser -u postgres -- pg_basebackup -h 127.0.0.1 -p "$CLUSTER_PRIMARY_PORT" -U postgres \
    -D "$data" -R -X stream -c fast
  pg_start "$REPLICA"
}

drop_clusters() {
  local name
  for name in "$REPLICA" "$PRIMARY"; do
    if cluster_exists "$name"; then
      say "dropping PostgreSQL $name"
      pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" "$name" stop -m fast 2>/dev/null || true
      pg_dropcluster "$(pg_version)" "$name"
    fi
  done
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

start_pgbouncer() {
  say "PgBouncer on $CLUSTER_PGBOUNCER_PORT (transaction pooling)"
  mkdir -p "$PGBOUNCER_DIR"
  render "$HERE/pgbouncer.ini" >"$PGBOUNCER_DIR/pgbouncer.ini"
  echo '"postgres" "postgres"' >"$PGBOUNCER_DIR/userlist.txt"
  chown -R postgres: "$PGBOUNCER_DIR"
  chmod 700 "$PGBOUNCER_DIR"
  pgbouncer -q -d -u postgres "$PGBOUNCER_DIR/pgbouncer.ini"
  wait_until 20 PgBouncer pg_isready -q -h 127.0.0.1 -p "$CLUSTER_PGBOUNCER_PORT"
}

write_instance_env() {
  "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$RUN/secret_key"
  cat >"$RUN/instance.env" <<EOF
DEBUG=false
SECRET_KEY=$(cat "$RUN/secret_key")
HOST=127.0.0.1
DATABASE_URL=$URL:$CLUSTER_PGBOUNCER_PORT/$DATABASE
DATABASE_DIRECT_URL=$URL:$CLUSTER_PRIMARY_PORT/$DATABASE
DATABASE_REPLICA_URL=$URL:$CLUSTER_REPLICA_PORT/$DATABASE
DATABASE_DISABLE_SERVER_SIDE_CURSORS=true
DATABASE_SERVER_SIDE_BINDING=false
DATABASE_STATEMENT_TIMEOUT=
DATABASE_LOCK_TIMEOUT=
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

app_start() {
  local n=$1 port
  port="$(app_port "$n")"
  if running "$RUN/app$n.pid" gunicorn; then
    say "instance app$n already runs"
  else
    say "instance app$n on $port"
    # Its own session, so the instance (master and workers) can be signalled as one group.
    (set -a && . "$RUN/instance.env" && set +a && cd "$ROOT" && PORT=$port exec setsid \
      "$PY" -m gunicorn --config gunicorn.conf.py --pid "$RUN/app$n.pid" \
      --control-socket "$RUN/app$n.ctl") \
      >>"$RUN/app$n.log" 2>&1 </dev/null &
  fi
  wait_until 60 "instance app$n" ready "$port"
  [ -S "$RUN/haproxy.sock" ] && haproxy_cmd "set server instances/app$n state ready" >/dev/null
  return 0
}

haproxy_cmd() {
  "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().read(), end="")' "$RUN/haproxy.sock" "$1"
}

start_haproxy() {
  say "HAProxy on $CLUSTER_BALANCER_PORT"
  local n servers=""
  for n in $(seq ${#APP_PORTS[@]}); do
    servers+="    server app$n 127.0.0.1:${APP_PORTS[$((n - 1))]}"$'\n'
  done
  CLUSTER_SERVERS="$servers" render "$HERE/haproxy.cfg" >"$RUN/haproxy.cfg"
  haproxy -c -q -f "$RUN/haproxy.cfg"
  (exec setsid haproxy -W -f "$RUN/haproxy.cfg" -p "$RUN/haproxy.pid") \
    >>"$RUN/haproxy.log" 2>&1 </dev/null &
  wait_until 30 HAProxy ready "$CLUSTER_BALANCER_PORT"
}

# --- commands ---------------------------------------------------------------------------

up() {
  [ "$(id -u)" -eq 0 ] || die "run as root: it installs packages and creates PostgreSQL clusters"
  [ -x "$PY" ] || die "no Python at $PY (make .venv/.installed, or set CLUSTER_PYTHON)"
  install_missing
  [ -n "$(pg_version)" ] || die "no PostgreSQL installed"
  down
  mkdir -p "$RUN"
  write_instance_env
  # What does not depend on the primary runs beside it: the replica's configuration
  # (its data is replaced by the primary's copy) and the static files.
  pg_cluster "$REPLICA" "$CLUSTER_REPLICA_PORT" &
  local replica_made=$!
  manage collectstatic --noinput --verbosity 0 &
  local static_made=$!
  start_primary
  wait "$replica_made"
  wait "$static_made"
  start_replica
  start_pgbouncer
  say "migrate (over the direct connection), seed"
  manage migrate --noinput
  manage seed
  local n
  for n in $(seq ${#APP_PORTS[@]}); do app_start "$n"; done
  start_haproxy
  say "up: http://127.0.0.1:$CLUSTER_BALANCER_PORT/ (run directory $RUN)"
}

down() {
  # Everything goes at once, so nothing is drained: quick shutdowns, side by side
  # (`drain` is the graceful way to stop one instance).
  stop_pid "$RUN/haproxy.pid" haproxy TERM &
  local n
  for n in $(seq ${#APP_PORTS[@]}); do stop_pid "$RUN/app$n.pid" gunicorn QUIT & done
  stop_pid "$PGBOUNCER_DIR/pgbouncer.pid" pgbouncer TERM &
  wait
  drop_clusters
  rm -rf "$RUN"
}

drain() {
  local n=$1 sessions
  app_port "$n" >/dev/null
  say "draining app$n"
  haproxy_cmd "set server instances/app$n state drain" >/dev/null
  for _ in $(seq 300); do
    sessions="$(haproxy_cmd "show stat" | awk -F, -v s="app$n" '$1 == "instances" && $2 == s {print $5}')"
    [ "${sessions:-0}" -eq 0 ] && break
    sleep 0.1
  done
  stop_pid "$RUN/app$n.pid" gunicorn TERM
}

status() {
  pg_lsclusters | awk -v p="$PRIMARY" -v r="$REPLICA" 'NR == 1 || $2 == p || $2 == r'
  local file
  for file in "$RUN"/*.pid "$PGBOUNCER_DIR"/pgbouncer.pid; do
    [ -f "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null && echo "running: $(basename "$file" .pid)"
  done
  [ -S "$RUN/haproxy.sock" ] && haproxy_cmd "show servers state instances"
  return 0
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  app-start) app_start "${2:?instance number}" ;;
  drain) drain "${2:?instance number}" ;;
  status) status ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
