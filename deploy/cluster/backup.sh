# Backups and point-in-time recovery with pgBackRest, for cluster.sh (which sources this file
# and whose helpers it uses). Every member archives its WAL into one repository
# (CLUSTER_BACKUP_DIR, pgbackrest.conf); backups are taken from whichever member leads; a
# restore makes a new cluster from the repository. docs/backups.md is the runbook.

pgbackrest_as() {  # member number, pgBackRest's arguments: as postgres, with that member's settings
  local n=$1
  shift
  [ -f "$(member_dir "$n")/pgbackrest.conf" ] || patroni_config "$n"
  setpriv --reuid postgres --regid postgres --init-groups \
    pgbackrest --config="$(member_dir "$n")/pgbackrest.conf" --stanza=notes "$@"
}

backup_info() {  # the repository's contents, as JSON (an empty list when it cannot be read)
  pgbackrest_as 1 info --output=json 2>/dev/null || echo '[]'
}

backup_labels() {  # the backups in the repository, one label a line
  backup_info | "$PY" -c 'import json, sys
print(*(b["label"] for stanza in json.load(sys.stdin) for b in stanza.get("backup", [])), sep="\n")'
}

confirm() {  # question: goes on with CONFIRM=yes, or a "yes" typed on the terminal
  [ "${CONFIRM:-}" = yes ] && return 0
  [ -t 0 ] || die "$1 Nothing was done: answer on a terminal, or set CONFIRM=yes."
  local answer
  read -r -p "$1 Type yes to go on: " answer
  [ "$answer" = yes ] || die "nothing was done"
}

first_backup() {  # once per cluster: a full backup
  [ -n "$(backup_labels)" ] || backup full
}

backup() {  # type (full, diff or incr): taken from the leader, then checked
  local type=$1 n
  case "$type" in full | diff | incr) ;; *) die "a backup is full, diff or incr, not '$type'" ;; esac
  n="$(leader)" || die "no member leads: there is nothing to back up"
  say "$type backup from pg$n into $CLUSTER_BACKUP_DIR"
  # Archiving works from this leader: a WAL segment switched now reaches the repository.
  pgbackrest_as "$n" check
  pgbackrest_as "$n" --type="$type" backup
  # Every file of every backup, and the archived WAL, read back against its checksum.
  pgbackrest_as "$n" verify
  pgbackrest_as "$n" info
}

restore() {  # target: a timestamp with its zone, or latest
  local target=$1 plan label moment n
  [ "$(id -u)" -eq 0 ] || die "run as root: PostgreSQL runs as postgres"
  mkdir -p "$RUN"
  # Refused here, before anything stops: no target, not a timestamp, a future one, one
  # before the oldest backup (or no backup at all).
  plan="$(backup_info | "$PY" "$HERE/restore_target.py" "$target")" || exit 2
  label="${plan%% *}"
  moment="${plan#"$label"}"
  moment="${moment# }"
  confirm "Bring the whole cluster back to $target, from backup $label? Every change after it is undone."
  for n in $(seq ${#APP_PORTS[@]}); do stop_pid "$RUN/app$n.pid" gunicorn TERM & done
  wait
  local led  # the member that led, if one still does
  if led="$(leader)"; then  # the last changes, up to now, into the repository
    say "archiving what pg$led has written"
    pgbackrest_as "$led" check || say "pg$led could not archive its last changes: restoring from what the repository has"
  fi
  for n in $(seq ${#MEMBER_PORTS[@]}); do member_kill "$n" & done
  wait
  forget_members "pg${led:-1}"
  shared_config
  say "restoring pg1 from backup $label, then replaying the archive up to ${moment:-its end}"
  CLUSTER_BOOTSTRAP_METHOD=restore CLUSTER_RESTORE_SET="$label" CLUSTER_RESTORE_TARGET_TIME="$moment" \
    member_start 1
  wait_until 1800 "pg1, restored to $target" leader
  rm -rf "$RUN"/pg*/data.replaced
  # The first backup of the new timeline: the other members are copied from it.
  backup full
  touch "$RUN/seeded"  # restored data is never seeded again
  up
}

forget_members() {  # leader: the stopped cluster's keys in etcd, and its members' data (kept aside)
  local n
  for n in $(seq ${#ETCD_PORTS[@]}); do etcd_start "$n"; done
  wait_until 30 "an etcd quorum" etcd_healthy
  patroni_config 1
  # patronictl asks for the cluster's name, an acknowledgement, and the leader's name while
  # its key has not expired yet.
  printf 'notes\nYes I am aware\n%s\n' "$1" |
    patronictl -c "$(member_dir 1)/patroni.yml" remove notes >/dev/null
  for n in $(seq ${#MEMBER_PORTS[@]}); do
    if [ -d "$(member_dir "$n")/data" ]; then
      rm -rf "$(member_dir "$n")/data.replaced" "$(member_dir "$n")/data.failed"
      mv "$(member_dir "$n")/data" "$(member_dir "$n")/data.replaced"
    fi
  done
}

backup_delete() {
  local n
  for n in $(seq ${#MEMBER_PORTS[@]}); do
    if running "$RUN/pg$n.pid" patroni || postmaster_runs "$n"; then
      die "the cluster runs and archives into $CLUSTER_BACKUP_DIR: stop it first (make cluster-stop)"
    fi
  done
  [ -d "$CLUSTER_BACKUP_DIR" ] || { say "there is no backup repository at $CLUSTER_BACKUP_DIR"; return 0; }
  confirm "Delete every backup and all archived WAL in $CLUSTER_BACKUP_DIR?"
  rm -rf "$CLUSTER_BACKUP_DIR"
  say "deleted $CLUSTER_BACKUP_DIR"
}
