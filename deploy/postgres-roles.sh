#!/usr/bin/env bash
# For the postgres image (docker-entrypoint-initdb.d): the roles of deploy/postgres.sh, with the
# passwords of the environment. `loyalty_owner` owns the database and creates the tables
# (`loyalty prepare`); `loyalty` is the services' role: rows only, no superuser.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE loyalty_owner LOGIN CREATEDB PASSWORD '${LOYALTY_DB_OWNER_PASSWORD}';
CREATE ROLE loyalty LOGIN PASSWORD '${LOYALTY_DB_PASSWORD}';
CREATE DATABASE loyalty OWNER loyalty_owner;
SQL
