#!/usr/bin/env bash
# Fuzzes the running API against its own /openapi.json with schemathesis:
# builds evni, starts `evni serve` on 127.0.0.1 with a fresh data dir and a
# tenant, and runs every operation with a tenant admin token, bounded
# (EVNI_SCHEMATHESIS_EXAMPLES examples per operation and phase, default 10)
# and reproducible (fixed seed, no example database). Exits non-zero on any
# server error or any response that the document does not describe (status
# code, content type, body schema).
#
# schemathesis (pinned) is installed with pip into a venv under target/, made
# with `python3 -m venv` (python3-venv is installed with apt-get when missing).
#
#   scripts/schemathesis.sh            # debug build
#   EVNI_PROFILE=release scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${EVNI_SCHEMATHESIS_EXAMPLES:-10}
SEED=${EVNI_SCHEMATHESIS_SEED:-16}
PORT=${EVNI_SCHEMATHESIS_PORT:-45180}
PROFILE=${EVNI_PROFILE:-debug}
VENV=target/schemathesis-venv

if [[ ! -x $VENV/bin/schemathesis ]] || ! "$VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    echo "installing python3-venv ..." >&2
    apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
fi

if [[ $PROFILE == release ]]; then
  cargo build --release -p evni
else
  cargo build -p evni
fi
EVNI="target/$PROFILE/evni"

DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/evni-schemathesis.XXXXXX")
SERVER_PID=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

export EVNI_DATA_DIR=$DATA_DIR EVNI_LISTEN=127.0.0.1:$PORT
TOKEN=$("$EVNI" tenant create schemathesis | tail -n 1)
"$EVNI" serve >"$DATA_DIR/server.log" 2>&1 &
SERVER_PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 100); do
  curl -sf -o /dev/null "$BASE/healthz" && break
  sleep 0.1
done
curl -sf -o /dev/null "$BASE/healthz" || { cat "$DATA_DIR/server.log" >&2; echo "evni did not start" >&2; exit 1; }

# Run from the temp dir: schemathesis keeps state in ./.schemathesis.
ROOT=$PWD
status=0
cd "$DATA_DIR"
PYTHONPATH=$ROOT/scripts SCHEMATHESIS_HOOKS=schemathesis_hooks "$ROOT/$VENV/bin/schemathesis" run "$BASE/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$EXAMPLES" \
  --seed "$SEED" \
  --generation-database none \
  --workers 1 \
  --request-timeout 30 \
  --no-color \
  --output-truncate false || status=$?
if [[ $status != 0 ]]; then
  echo "== server log (last 50 lines)" >&2
  tail -n 50 "$DATA_DIR/server.log" >&2
fi
exit "$status"
