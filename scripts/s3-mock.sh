#!/usr/bin/env bash
# Starts a local S3-compatible server (moto, from PyPI; installed with pip
# when missing) on 127.0.0.1 for evni's object-store tests, creates the
# bucket `evni-test` and prints the endpoint as the last line:
#   http://127.0.0.1:PORT
# Idempotent: a server this script started earlier is reused.
#
#   export AWS_ENDPOINT=$(scripts/s3-mock.sh | tail -n 1)
set -euo pipefail

PORT=${EVNI_S3_MOCK_PORT:-45123}
ENDPOINT="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1

if ! python3 -c 'import moto.server, boto3' 2>/dev/null; then
  echo "installing moto[server] ..." >&2
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5' >&2
fi

if ! curl -sf -o /dev/null "$ENDPOINT/"; then
  nohup python3 -m moto.server -H 127.0.0.1 -p "$PORT" >"${TMPDIR:-/tmp}/evni-s3-mock.log" 2>&1 &
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$ENDPOINT/" && break
    sleep 0.1
  done
  curl -sf -o /dev/null "$ENDPOINT/" || { echo "moto did not start; see ${TMPDIR:-/tmp}/evni-s3-mock.log" >&2; exit 1; }
fi

python3 - "$ENDPOINT" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
if "evni-test" not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket="evni-test")
PY
echo "$ENDPOINT"
