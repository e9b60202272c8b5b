#!/usr/bin/env bash
# The README's test command. Installs the pinned npm packages of the real-client suites
# (Taquito, Microsoft's Node Key Vault SDK, Azurite) once, under a lock, when npm is there;
# runs every test of the workspace (`cargo test --locked`, extra arguments passed on); then
# says, last and visibly, which suites did not run and why. Nothing the tests start leaves
# loopback; only `npm ci` here talks to the npm registry, and only when a package is missing.
# This script never starts Azurite: tests/shared/azurite.rs does, on 127.0.0.1 and always with
# --disableTelemetry (Azurite phones home without it).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
skips="$target/tmp/skipped-suites.txt"
mkdir -p "$target/tmp"
: >"$skips"

install() {
  local client=$1
  # Installed already for exactly this lock file: nothing to do.
  if cmp -s "$client/package-lock.json" "$client/node_modules/.installed-from-lock" 2>/dev/null; then
    return 0
  fi
  echo "installing the pinned npm packages of $client (once)" >&2
  if (cd "$client" && npm ci --no-audit --no-fund --ignore-scripts >&2); then
    cp "$client/package-lock.json" "$client/node_modules/.installed-from-lock"
  else
    echo "npm ci failed in $client: its suite will not run" >&2
  fi
}

if command -v npm >/dev/null 2>&1; then
  for client in tests/clients/taquito tests/clients/azure-sdk tests/clients/azurite; do
    if command -v flock >/dev/null 2>&1; then
      # One installer at a time (two test runs started together share the result).
      exec 9>"$client/.npm-install.lock"
      flock 9
      install "$client"
      exec 9>&-
    else
      install "$client"
    fi
  done
else
  echo "npm is not installed: the Taquito, Node SDK and Azurite suites will not run" >&2
fi

# Property tests draw the same cases on every run (a failure replays as it was seen), and a
# failing one shrinks for at most a minute before it reports, instead of for hours. Set
# PROPTEST_RNG_SEED to explore other cases.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261203}"
export PROPTEST_MAX_SHRINK_TIME="${PROPTEST_MAX_SHRINK_TIME:-60000}"

status=0
cargo test --locked "$@" || status=$?
if [ -s "$skips" ]; then
  echo
  echo "=== suites that did not run ==="
  sort -u "$skips"
  echo "==="
fi
exit "$status"
