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
# Data the cases can find (scripts/schemathesis.toml names it): the
# reference's example session, its station, a batch and the CSAR-2 base model.
api() {
  curl -sf -X "$1" "$BASE$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+--data "$3"}
}
SESSION='{"session_id":"sess-abc-001","charging_station_id":"CP-NL-AMS-0042","connector_id":"1","meter_values":[
  {"timestamp":"2026-02-27T10:00:00Z","measurand":"Energy.Active.Import.Register","unit":"kWh","value":0.0},
  {"timestamp":"2026-02-27T10:15:00Z","measurand":"Energy.Active.Import.Register","unit":"kWh","value":5.5},
  {"timestamp":"2026-02-27T10:30:00Z","measurand":"Energy.Active.Import.Register","unit":"kWh","value":11.1}]}'
api POST /v1/sessions "$SESSION" >/dev/null
field() { python3 -c "import json,sys; print($1)"; }
EVNI_SCHEMATHESIS_BATCH=$(api POST /v1/sessions/batch "{\"sessions\":[$SESSION]}" | field 'json.load(sys.stdin)["batch_id"]')
EVNI_SCHEMATHESIS_MODEL=$(api GET /v1/models | field 'next(m["id"] for m in json.load(sys.stdin)["models"] if m["type"] == "csar_2")')
export EVNI_SCHEMATHESIS_BATCH EVNI_SCHEMATHESIS_MODEL

status=0
cd "$DATA_DIR"
PYTHONPATH=$ROOT/scripts SCHEMATHESIS_HOOKS=schemathesis_hooks "$ROOT/$VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" run "$BASE/openapi.json" \
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
