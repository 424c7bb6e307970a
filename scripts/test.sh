#!/usr/bin/env bash
# Runs every test of the workspace. Everything the tests need is set up here,
# so this is the one command to run on a fresh machine.
#
# The storage tests (the HTTP API suite in crates/evni/tests and the store
# tests) run against SQLite always, and again against PostgreSQL when
#   EVNI_TEST_DATABASE_URL=postgres://...  names a server (the role needs
#                                          CREATE on the database), or
#   EVNI_TEST_POSTGRES=1                   lets scripts/postgres.sh install
#                                          and start a local one (root/sudo).
# The object store runs on the local file system always, and again on an
# S3-compatible server (a build with `--features s3`) when
#   EVNI_TEST_S3=1                         lets scripts/s3-mock.sh install
#                                          (pip) and start a local one.
# The running server is fuzzed against its own /openapi.json when
#   EVNI_TEST_SCHEMATHESIS=1               lets scripts/schemathesis.sh install
#                                          schemathesis (pip, in a venv) and
#                                          run it, bounded, with a token.
# The dashboard's browser tests (crates/evni/tests/ui.rs) run when
#   EVNI_TEST_BROWSER=1                    lets scripts/chromium.sh install
#                                          headless Chromium and its driver.
# Native OCPP runs with a real OCPP implementation (the `ocpp` package from
# PyPI as charge point and CSMS, through evni's proxy) when
#   EVNI_TEST_OCPP=1                       lets scripts/ocpp-venv.sh create
#                                          its virtual environment (pip).
# Arguments go to every cargo test run, e.g. scripts/test.sh some_test_name.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL=${EVNI_TEST_DATABASE_URL:-}
if [[ -z $PG_URL && ${EVNI_TEST_POSTGRES:-0} == 1 ]]; then
  PG_URL=$(scripts/postgres.sh | tail -n 1)
fi

if [[ ${EVNI_TEST_BROWSER:-0} == 1 ]]; then
  CHROMEDRIVER=$(scripts/chromium.sh | tail -n 1)
  export CHROMEDRIVER EVNI_TEST_BROWSER
fi

echo "== tests on SQLite"
env -u EVNI_TEST_DATABASE_URL cargo test --workspace "$@"

if [[ -n $PG_URL ]]; then
  echo "== storage tests on PostgreSQL"
  EVNI_TEST_DATABASE_URL=$PG_URL cargo test -p evni -p evni-store "$@"
  echo "== scale-out on PostgreSQL (two API processes and a worker)"
  EVNI_TEST_DATABASE_URL=$PG_URL cargo test -p evni --test scale "$@" -- --ignored
else
  echo "== PostgreSQL skipped: set EVNI_TEST_DATABASE_URL or EVNI_TEST_POSTGRES=1 to run the storage tests on it too"
fi

if [[ ${EVNI_TEST_S3:-0} == 1 ]]; then
  echo "== object store tests on S3 (local moto server)"
  AWS_ENDPOINT=$(scripts/s3-mock.sh | tail -n 1) AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test EVNI_TEST_S3_URL=s3://evni-test/evni \
    cargo test -p evni-store --features s3 --test objects_s3
else
  echo "== S3 skipped: set EVNI_TEST_S3=1 to run the object store tests on a local S3 server too"
fi

if [[ ${EVNI_TEST_SCHEMATHESIS:-0} == 1 ]]; then
  echo "== schemathesis: the API against its own /openapi.json"
  scripts/schemathesis.sh
else
  echo "== schemathesis skipped: set EVNI_TEST_SCHEMATHESIS=1 to fuzz the API against /openapi.json"
fi

if [[ ${EVNI_TEST_OCPP:-0} == 1 ]]; then
  echo "== OCPP with the Python ocpp package (charge points and CSMS through the proxy)"
  EVNI_TEST_OCPP_PYTHON=$(scripts/ocpp-venv.sh | tail -n 1) cargo test -p evni --test api ocpp_python "$@"
else
  echo "== OCPP package tests skipped: set EVNI_TEST_OCPP=1 to run them"
fi
