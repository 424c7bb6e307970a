#!/usr/bin/env bash
# Runs every test of the workspace. Everything the tests need is set up here,
# so this is the one command to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
