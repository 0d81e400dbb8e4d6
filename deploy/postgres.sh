#!/usr/bin/env bash
# PostgreSQL for a machine without Docker: Debian's `postgresql` package, a cluster on
# 127.0.0.1:5432, a `loyalty` role and database.
#   deploy/postgres.sh start    install if needed, start, wait until a query answers (idempotent)
#   deploy/postgres.sh stop     stop the cluster this script started
#   deploy/postgres.sh status   exit 0 when a query answers
# An instance that already answers on the port is reused as it is.
set -euo pipefail

PORT="${LOYALTY_PG_PORT:-5432}"
STATE_DIR="${LOYALTY_HOME:-$HOME/.cache/loyalty}"
MARK="$STATE_DIR/postgres.started"
USER_NAME=loyalty
DB_NAME=loyalty

log() { echo "[postgres] $*" >&2; }

answers() {
  PGPASSWORD=loyalty PGCONNECT_TIMEOUT=2 psql -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d "$DB_NAME" \
    -tAc 'select 1' >/dev/null 2>&1
}

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }

install() {
  if [ -z "$(pg_version)" ]; then
    log "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

start_cluster() {
  local version
  version="$(pg_version)"
  if ! pg_lsclusters -h | awk '{print $2}' | grep -qx main; then
    pg_createcluster "$version" main -p "$PORT" >&2
  fi
  if ! pg_lsclusters -h | awk '$2=="main" {print $4}' | grep -qx online; then
    log "starting cluster $version/main on port $PORT"
    pg_ctlcluster "$version" main start >&2
    mkdir -p "$STATE_DIR" && echo "$version" > "$MARK"
  fi
}

create_role_and_database() {
  su postgres -c "psql -p $PORT -qtAc \"select 1 from pg_roles where rolname='$USER_NAME'\"" | grep -q 1 ||
    su postgres -c "psql -p $PORT -qc \"create role $USER_NAME login superuser password 'loyalty'\"" >&2
  su postgres -c "psql -p $PORT -qtAc \"select 1 from pg_database where datname='$DB_NAME'\"" | grep -q 1 ||
    su postgres -c "psql -p $PORT -qc \"create database $DB_NAME owner $USER_NAME\"" >&2
}

wait_until_answers() {
  for _ in $(seq 1 60); do
    answers && return 0
    sleep 1
  done
  log "no answer on 127.0.0.1:$PORT after 60 s; see /var/log/postgresql/"
  return 1
}

case "${1:-start}" in
  start)
    if answers; then log "already answering on 127.0.0.1:$PORT"; exit 0; fi
    install
    start_cluster
    create_role_and_database
    wait_until_answers
    log "ready: postgresql://$USER_NAME:loyalty@127.0.0.1:$PORT/$DB_NAME"
    ;;
  stop)
    if [ -f "$MARK" ]; then
      pg_ctlcluster "$(cat "$MARK")" main stop >&2 || true
      rm -f "$MARK"
      log "stopped"
    else
      log "not started by this script; left as it is"
    fi
    ;;
  status)
    answers
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
