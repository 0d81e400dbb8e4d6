#!/usr/bin/env bash
# For the postgres image (docker-entrypoint-initdb.d): the roles of deploy/postgres.sh, with the
# passwords of the environment. `loyalty_owner` owns the database and creates the tables
# (`loyalty prepare`); `loyalty` is the services' role: rows only, no superuser.
# The passwords reach SQL only as psql variables, quoted by psql (:'name'), so any character,
# a quote or a backslash too, is part of the password and nothing else. The names may be set
# (LOYALTY_DB_OWNER, LOYALTY_DB_USER, LOYALTY_DB_NAME); they default to the project's.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner="${LOYALTY_DB_OWNER:-loyalty_owner}" \
  -v owner_password="$LOYALTY_DB_OWNER_PASSWORD" \
  -v role="${LOYALTY_DB_USER:-loyalty}" \
  -v role_password="$LOYALTY_DB_PASSWORD" \
  -v database="${LOYALTY_DB_NAME:-loyalty}" <<'SQL'
CREATE ROLE :"owner" LOGIN CREATEDB PASSWORD :'owner_password';
CREATE ROLE :"role" LOGIN PASSWORD :'role_password';
CREATE DATABASE :"database" OWNER :"owner";
SQL
