#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian packages `chromium`
# and `chromium-driver`) for the dashboard's browser tests, and prints the
# driver's path as the last line.
#
# Idempotent: installed packages are left as they are. Runs as root (CI) or
# with sudo.
#
#   EVNI_TEST_BROWSER=1 CHROMEDRIVER=$(scripts/chromium.sh | tail -n 1) cargo test -p evni --test ui
set -euo pipefail

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver ..." >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || {
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  }
fi
chromium --version >&2
command -v chromedriver
