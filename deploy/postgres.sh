#!/usr/bin/env bash
# PostgreSQL for a machine without Docker: Debian's `postgresql` package, a cluster on
# 127.0.0.1:5432, a database `loyalty` owned by the role `loyalty_owner` (it creates the tables:
# `loyalty prepare`) and the role `loyalty` the services use (rows only; no superuser).
#   deploy/postgres.sh start    install if needed, start, wait until a query answers (idempotent)
#   deploy/postgres.sh stop     stop the cluster this script started
#   deploy/postgres.sh status   exit 0 when a query answers
# An instance that already answers on the port is reused as it is.
set -euo pipefail

PORT="${LOYALTY_PG_PORT:-5432}"
STATE_DIR="${LOYALTY_HOME:-$HOME/.cache/loyalty}"
MARK="$STATE_DIR/postgres.started"
USER_NAME=loyalty
OWNER_NAME=loyalty_owner
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

as_postgres() { su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -qtA $*"; }

roles_and_database() {
  # Idempotent; also turns a `loyalty` superuser of an earlier installation into a plain role.
  as_postgres -c "\"DO \\\$\\\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$OWNER_NAME') THEN
        CREATE ROLE $OWNER_NAME LOGIN PASSWORD '$OWNER_NAME'; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_NAME') THEN
        CREATE ROLE $USER_NAME LOGIN PASSWORD '$USER_NAME'; END IF;
    END \\\$\\\$\"" >&2
  as_postgres -c "\"ALTER ROLE $OWNER_NAME NOSUPERUSER CREATEDB NOCREATEROLE\"" >&2
  as_postgres -c "\"ALTER ROLE $USER_NAME NOSUPERUSER NOCREATEDB NOCREATEROLE\"" >&2
  if as_postgres -c "\"select 1 from pg_database where datname = '$DB_NAME'\"" | grep -q 1; then
    as_postgres -c "\"ALTER DATABASE $DB_NAME OWNER TO $OWNER_NAME\"" >&2
    as_postgres -d "$DB_NAME" -c "\"REASSIGN OWNED BY $USER_NAME TO $OWNER_NAME\"" >&2
  else
    as_postgres -c "\"CREATE DATABASE $DB_NAME OWNER $OWNER_NAME\"" >&2
  fi
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
    if answers; then
      # A cluster of this machine's: bring its roles up to date too (harmless when they are).
      if [ -n "$(pg_version)" ] && pg_lsclusters -h 2>/dev/null | grep -q online; then
        roles_and_database || log "roles left as they are"
      fi
      log "already answering on 127.0.0.1:$PORT"
      exit 0
    fi
    install
    start_cluster
    roles_and_database
    wait_until_answers
    log "ready: postgresql://$USER_NAME:$USER_NAME@127.0.0.1:$PORT/$DB_NAME (services)," \
        "postgresql://$OWNER_NAME:$OWNER_NAME@127.0.0.1:$PORT/$DB_NAME (tables)"
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
