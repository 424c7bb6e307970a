#!/usr/bin/env bash
# Re-fetches the dashboard's vendored front-end libraries (htmx, uPlot) from
# the npm registry at pinned versions, verifies every file against its pinned
# SHA-256 and copies it to crates/evni-ui/static/vendor/. The binary embeds
# those files: nothing is fetched at run time.
#
#   scripts/vendor-ui.sh          # re-fetch and verify; a changed file fails
#   scripts/vendor-ui.sh --check  # verify the committed copies only (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=crates/evni-ui/static/vendor

# package@version  file-in-package  name-in-vendor  sha256
PINS=(
  "htmx.org@2.0.11 package/dist/htmx.min.js htmx.min.js d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
  "htmx.org@2.0.11 package/LICENSE htmx.LICENSE d3d2456f76414f2456104660ebd65aff1c04cd7966b942bdabd63f3cdb316a38"
  "uplot@1.6.32 package/dist/uPlot.iife.min.js uPlot.iife.min.js 19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"
  "uplot@1.6.32 package/dist/uPlot.min.css uPlot.min.css df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"
  "uplot@1.6.32 package/LICENSE uPlot.LICENSE 8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd"
)

verify() { # file sha256
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [[ $got == "$2" ]] || { echo "checksum mismatch for $1: $got, pinned $2" >&2; exit 1; }
}

if [[ ${1:-} == --check ]]; then
  for pin in "${PINS[@]}"; do
    read -r _ _ name sum <<<"$pin"
    verify "$DEST/$name" "$sum"
  done
  echo "vendored UI files match their pins"
  exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DEST"
for pin in "${PINS[@]}"; do
  read -r package file name sum <<<"$pin"
  dir="$WORK/${package//[@\/]/_}"
  if [[ ! -d $dir ]]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
  fi
  verify "$dir/$file" "$sum"
  cp "$dir/$file" "$DEST/$name"
done
echo "vendored UI files fetched and verified in $DEST"
