#!/usr/bin/env bash
# Runs Bazaar's whole test suite: every crate's unit and integration tests, through
# cargo-nextest (installed if missing), with the servers they need started first
# (scripts/services.sh). Extra arguments go to nextest, e.g.
#   scripts/test.sh -p bazaar-sandbox
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "test.sh: installing cargo-nextest" >&2
    cargo install cargo-nextest --locked
fi

scripts/services.sh

exec cargo nextest run --workspace --no-fail-fast "$@"
