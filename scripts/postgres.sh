#!/usr/bin/env bash
# Installs (from Debian's packages) and starts a local PostgreSQL server for the payout
# store tests, with role and database `hookguard` (password `hookguard`) on 127.0.0.1:5432.
# Idempotent: safe to run again. Prints the URL to use as HOOKGUARD_POSTGRES_URL.
set -euo pipefail
# Only the URL goes to stdout, because callers capture it: everything else (apt, pg_ctlcluster's
# "Removed stale pid file.", psql) is sent to stderr. (No spare descriptor is kept for stdout:
# the server would inherit it and the caller's `$(...)` would wait for it forever.)
{

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version main"; then
  as_root pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -qx online; then
  as_root pg_ctlcluster "$version" main start
fi

psql_admin() { as_root su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $*"; }
for _ in $(seq 1 50); do
  psql_admin "-c 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
psql_admin "-c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hookguard') THEN CREATE ROLE hookguard LOGIN PASSWORD 'hookguard'; END IF; END \\\$\\\$;\""
if [ -z "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = 'hookguard'\"")" ]; then
  psql_admin "-c 'CREATE DATABASE hookguard OWNER hookguard'"
fi
} >&2
echo "postgres://hookguard:hookguard@127.0.0.1:5432/hookguard"
