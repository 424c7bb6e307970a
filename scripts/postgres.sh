#!/usr/bin/env bash
# Installs (Debian packages) and starts a local PostgreSQL for evni's tests
# and benchmarks, creates the role and database `evni`, and prints the URL as
# the last line:  postgres://evni:evni@127.0.0.1:PORT/evni
#
# Idempotent: an installed package, a running cluster and an existing role
# are left as they are. Runs as root (CI) or with sudo. The role may create
# databases: the tests make one fresh database per test.
#
#   export EVNI_TEST_DATABASE_URL=$(scripts/postgres.sh | tail -n 1)
set -euo pipefail

ROLE=${EVNI_PG_ROLE:-evni}
PASSWORD=${EVNI_PG_PASSWORD:-evni}
DATABASE=${EVNI_PG_DATABASE:-evni}

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# Package lists are refreshed only when the install fails without it.
if ! command -v pg_ctlcluster >/dev/null || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  echo "installing postgresql ..." >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 || {
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  }
fi

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
# The Debian package creates cluster "main"; a machine where it was removed
# gets it back.
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main"' | grep -q .; then
  echo "creating cluster $VERSION/main ..." >&2
  as_root pg_createcluster "$VERSION" main >&2
fi
CONF=/etc/postgresql/$VERSION/main/postgresql.conf
# Two API processes, a worker and tests running in parallel each keep a pool;
# the default of 100 connections is tight for that.
if ! grep -q '^max_connections = 300' "$CONF"; then
  as_root sed -i 's/^#\?max_connections = .*/max_connections = 300/' "$CONF"
  as_root pg_ctlcluster "$VERSION" main stop >/dev/null 2>&1 || true
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  echo "starting cluster $VERSION/main ..." >&2
  as_root pg_ctlcluster "$VERSION" main start >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" { print $3 }')

psql_admin() { as_root su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -qAt $*"; }
for _ in $(seq 50); do psql_admin "-c 'SELECT 1'" >/dev/null 2>&1 && break; sleep 0.2; done
if [[ $(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'\"") != 1 ]]; then
  psql_admin "-c \"CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'\"" >&2
fi
if [[ $(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$DATABASE'\"") != 1 ]]; then
  psql_admin "-c 'CREATE DATABASE $DATABASE OWNER $ROLE'" >&2
fi
echo "PostgreSQL $VERSION on 127.0.0.1:$PORT, role $ROLE, database $DATABASE" >&2
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
