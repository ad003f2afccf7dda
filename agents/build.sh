#!/usr/bin/env bash
# Builds the example agents for wasm32-wasip1, reproducibly.
#
#   ./build.sh          build every agent and refresh dist/ (<name>.wasm,
#                       SHA256SUMS, RUSTC_VERSION)
#   ./build.sh --check  build every agent and compare the fresh modules, and
#                       the committed dist/*.wasm, with dist/SHA256SUMS;
#                       exits non-zero on any difference; dist/ is not touched
#
# The same sources and the same rustc give byte-identical modules wherever the
# repository is cloned and whatever CARGO_HOME is: every absolute path that
# could end up in a module (this directory, the cargo registry and git
# checkouts, the toolchain's sysroot) is remapped to a fixed prefix, and any
# RUSTFLAGS or CARGO_TARGET_DIR from the environment is overridden.
set -euo pipefail

usage() {
    echo "usage: $0 [--check]" >&2
    exit 2
}

check=false
case "${1-}" in
"") ;;
--check) check=true ;;
-h | --help)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*) usage ;;
esac
[ "$#" -le 1 ] || usage

target=wasm32-wasip1
agents_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
dist="$agents_dir/dist"
cd "$agents_dir"

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$@"
    else
        shasum -a 256 "$@"
    fi
}

# Every workspace member with a src/main.rs is an agent; the binary has the
# package's (and directory's) name.
agents=()
for main in */src/main.rs; do
    agents+=("${main%%/*}")
done

# The wasm target must be installed for the active toolchain.
if [ ! -d "$(rustc --print target-libdir --target "$target" 2>/dev/null)" ]; then
    if command -v rustup >/dev/null 2>&1; then
        echo "build.sh: installing the $target target with rustup" >&2
        rustup target add "$target" >&2
    else
        echo "build.sh: the Rust target $target is not installed" >&2
        exit 1
    fi
fi

rustc_version="$(rustc --version)"
sysroot="$(rustc --print sysroot)"
# Cargo may pass paths under CARGO_HOME as given or resolved: remap both.
cargo_homes=("${CARGO_HOME:-$HOME/.cargo}")
if resolved="$(cd "${cargo_homes[0]}" 2>/dev/null && pwd -P)" && [ "$resolved" != "${cargo_homes[0]}" ]; then
    cargo_homes+=("$resolved")
fi

# CARGO_ENCODED_RUSTFLAGS (arguments separated by 0x1f) rather than RUSTFLAGS,
# so that paths containing spaces survive. When several prefixes match, the
# last one wins, so the most specific come last.
sep=$'\x1f'
flags="--remap-path-prefix=$agents_dir=/bazaar/agents"
for cargo_home in "${cargo_homes[@]}"; do
    flags+="$sep--remap-path-prefix=$cargo_home/registry=/cargo/registry"
    flags+="$sep--remap-path-prefix=$cargo_home/git=/cargo/git"
done
flags+="$sep--remap-path-prefix=$sysroot=/rust/sysroot"
export CARGO_ENCODED_RUSTFLAGS="$flags"
unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS
export CARGO_TARGET_DIR="$agents_dir/target"
export CARGO_INCREMENTAL=0

echo "build.sh: building ${#agents[@]} agents with $rustc_version" >&2
cargo build --release --locked --target "$target" --workspace --bins

out="$CARGO_TARGET_DIR/$target/release"
if ! $check; then
    mkdir -p "$dist"
    rm -f "$dist"/*.wasm
    for name in "${agents[@]}"; do
        cp "$out/$name.wasm" "$dist/$name.wasm"
        chmod 644 "$dist/$name.wasm"
    done
    (cd "$dist" && sha256 *.wasm | LC_ALL=C sort -k2 >SHA256SUMS)
    echo "$rustc_version" >"$dist/RUSTC_VERSION"
    (cd "$dist" && wc -c -- *.wasm) >&2
    echo "build.sh: wrote dist/ (commit it together with the sources)" >&2
    exit 0
fi

# --check
if [ ! -f "$dist/SHA256SUMS" ]; then
    echo "build.sh --check: dist/SHA256SUMS is missing; run ./build.sh" >&2
    exit 1
fi
fresh="$(cd "$out" && for name in "${agents[@]}"; do sha256 "$name.wasm"; done | LC_ALL=C sort -k2)"
committed="$(cat "$dist/SHA256SUMS")"
status=0
if [ "$fresh" != "$committed" ]; then
    echo "build.sh --check: FAILED: the fresh build differs from dist/SHA256SUMS:" >&2
    diff <(echo "$committed") <(echo "$fresh") | sed -n 's/^</  committed:/p; s/^>/  fresh:    /p' >&2 || true
    status=1
fi
if ! (cd "$dist" && sha256 --check --quiet SHA256SUMS >&2); then
    echo "build.sh --check: FAILED: dist/*.wasm do not match dist/SHA256SUMS" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    recorded="$(cat "$dist/RUSTC_VERSION" 2>/dev/null || echo unknown)"
    if [ "$recorded" != "$rustc_version" ]; then
        echo "build.sh --check: note: dist/ was built with '$recorded', this is '$rustc_version';" \
            "a different compiler gives different modules" >&2
    fi
    echo "build.sh --check: rebuild with ./build.sh and commit dist/ if the sources changed" >&2
    exit 1
fi
echo "build.sh --check: OK: ${#agents[@]} agents match dist/SHA256SUMS" >&2
