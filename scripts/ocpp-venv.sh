#!/usr/bin/env bash
# Creates (once) a Python virtual environment holding the `ocpp` package from
# PyPI (the Python implementation of OCPP-J) and `websockets`, for the tests
# that run a real charge point and CSMS through evni's OCPP proxy. Prints the
# venv's python as the last line:
#   export EVNI_TEST_OCPP_PYTHON=$(scripts/ocpp-venv.sh | tail -n 1)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${EVNI_OCPP_VENV:-target/ocpp-venv}
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "installing python3-venv ..." >&2
  apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
fi
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import ocpp, websockets' 2>/dev/null; then
  echo "installing ocpp and websockets into $VENV ..." >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'ocpp>=2,<3' 'websockets>=12' >&2
fi
echo "$(cd "$VENV" && pwd)/bin/python"
