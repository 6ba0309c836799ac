#!/usr/bin/env bash
# Rebuilds every plugin under targets/plugins/ from source and copies each
# NAME.wasm next to its sources (targets/plugins/NAME/NAME.wasm). A plugin with its
# own build.sh (one for another target) is built by that script.
#
# A plugin whose Cargo.toml has a [package.metadata.hookr] table gets a memory sized
# to what it needs, in 1-byte pages (the Wasm custom-page-sizes proposal):
#
#   [package.metadata.hookr]
#   stack-size = 8192     # bytes of stack (default 16384, one 64 KiB page in all)
#   heap = 8192           # bytes of heap above the stack and static data
#   max-memory = 65536    # optional: the most the memory may grow to, in bytes
#
# Every plugin built here then goes through binaryen's `wasm-opt -O3`, at exactly
# version WASM_OPT_VERSION (installed with apt-get when missing): it makes the
# plugins about 15 % smaller and their calls as fast or faster (README.md, "Writing a
# plugin"). The output depends on that version, so another one is refused.
#
# The toolchain links it with 64 KiB pages; targets/pages (`hookr-pages`, built here
# first) then rewrites its memory section: stack, static data and `heap` bytes, in
# 1-byte pages. The plugin's allocator must count 1-byte pages (hookr-guest's
# `page-size-1` feature) or never grow memory; hookr-pages refuses it otherwise.
#
#   targets/build-plugins.sh           rebuild and update the committed .wasm files
#   targets/build-plugins.sh --check   rebuild and fail if a committed .wasm differs
#
# The output depends only on the sources, Cargo.lock files and the Rust toolchain,
# so another clone on another machine with the same toolchain gives byte-identical
# modules. Two things make that so:
# - cargo hashes the absolute path of a path dependency outside the plugin's own
#   workspace (the kit, hookr-abi) into symbol names, and symbol names decide the
#   order of code in the module. So the build goes through a fixed path,
#   /tmp/hookr-plugins-src, a symlink to this checkout, held under a lock
#   (/tmp/hookr-plugins-src.lock) while the build runs.
# - that path and the cargo home are remapped in any path compiled into the code.
#
# Environment: JOBS (default 2) parallel rustc jobs; CARGO_TARGET_DIR (default
# targets/target, gitignored) where cargo builds.
set -euo pipefail

mode=build
case "${1-}" in
    "") ;;
    --check) mode=check ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "build-plugins.sh: unknown argument '$1' (expected --check)" >&2
        exit 2
        ;;
esac

targets_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(cd "$targets_dir/.." && pwd -P)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
case "$cargo_home" in /*) ;; *) cargo_home=$PWD/$cargo_home ;; esac
mkdir -p "$cargo_home"
cargo_home_real=$(cd "$cargo_home" && pwd -P)
target=wasm32-unknown-unknown
fixed_root=/tmp/hookr-plugins-src

rustup target add "$target"

# binaryen's optimiser, at the one version whose output is committed.
WASM_OPT_VERSION=108
# binaryen inlines every function that has one caller, however large, by default. That
# undoes what rustc kept out of line on purpose (the kit's request decoding and response
# encoding, a plugin's `#[inline(never)]`), and wasmi keeps its translation buffers as
# large as the largest function it has translated, for as long as the engine lives:
# on a microcontroller that is RAM. Functions of one caller are inlined only up to
# this size (binaryen's measure), which keeps the small ones inlined.
WASM_OPT_INLINING=(--one-caller-inline-max-function-size 300)
# The features rustc enables for wasm32-unknown-unknown, which wasmi runs; wasm-opt
# keeps to them.
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
    --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types)
wasm_opt_version() { wasm-opt --version 2>/dev/null | awk '{print $3}'; }
if [ "$(wasm_opt_version)" != "$WASM_OPT_VERSION" ] && command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "build-plugins.sh: installing binaryen (wasm-opt $WASM_OPT_VERSION)"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq binaryen
fi
if [ "$(wasm_opt_version)" != "$WASM_OPT_VERSION" ]; then
    echo "build-plugins.sh: needs binaryen's wasm-opt version $WASM_OPT_VERSION, found '$(wasm_opt_version)'" >&2
    exit 1
fi

exec 9>"$fixed_root.lock"
flock 9
if [ -e "$fixed_root" ] && [ ! -L "$fixed_root" ]; then
    echo "build-plugins.sh: $fixed_root exists and is not a symlink; move it away" >&2
    exit 1
fi
trap 'rm -f "$fixed_root"' EXIT
ln -sfn "$repo_root" "$fixed_root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$targets_dir/target}"
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

echo "build-plugins.sh: $(rustc --version), wasm-opt $WASM_OPT_VERSION, target $target, mode $mode"

# A check builds exactly what is committed; a build may update a plugin's Cargo.lock
# (a new plugin copied from another one needs that), to be committed with it.
locked=
if [ "$mode" = check ]; then locked=--locked; fi

# The memory-section rewriter, for the build machine.
cargo build --manifest-path "$fixed_root/targets/pages/Cargo.toml" --release $locked -j "${JOBS:-2}"
pages="$CARGO_TARGET_DIR/release/hookr-pages"

# A value of the plugin's [package.metadata.hookr] table, or empty.
metadata() {
    awk -v key="$2" '
        /^\[/ { in_table = ($0 == "[package.metadata.hookr]") }
        in_table && $1 == key && $2 == "=" { print $3; exit }' "$1"
}

# The stack size, and no machine-specific paths in the output.
# CARGO_ENCODED_RUSTFLAGS (fields split by 0x1f) overrides RUSTFLAGS and the crates'
# .cargo/config.toml flags.
plugin_flags() {
    local sep=$'\x1f'
    local flags="-Clink-arg=-zstack-size=$1"
    flags+="$sep--remap-path-prefix=$fixed_root=/hookr"
    flags+="$sep--remap-path-prefix=$cargo_home=/cargo"
    if [ "$cargo_home_real" != "$cargo_home" ]; then
        flags+="$sep--remap-path-prefix=$cargo_home_real=/cargo"
    fi
    printf '%s' "$flags"
}

status=0
found=0
for manifest in "$targets_dir"/plugins/*/Cargo.toml; do
    [ -e "$manifest" ] || continue
    found=$((found + 1))
    dir=$(dirname "$manifest")
    name=$(basename "$dir")
    # A plugin for another target (wasi-demo: wasm32-wasip1) has its own build script.
    if [ -x "$dir/build.sh" ]; then
        if [ "$mode" = check ]; then "$dir/build.sh" --check || status=1; else "$dir/build.sh"; fi
        continue
    fi
    stack=$(metadata "$manifest" stack-size)
    heap=$(metadata "$manifest" heap)
    max=$(metadata "$manifest" max-memory)
    CARGO_ENCODED_RUSTFLAGS=$(plugin_flags "${stack:-16384}") \
        cargo build --manifest-path "$fixed_root/targets/plugins/$name/Cargo.toml" \
        --release $locked --target "$target" -j "${JOBS:-2}"
    built="$CARGO_TARGET_DIR/$target/release/${name//-/_}.wasm"
    committed="$dir/$name.wasm"
    if [ ! -f "$built" ]; then
        echo "build-plugins.sh: $built is missing: is the package named '$name' with crate-type cdylib?" >&2
        exit 1
    fi
    wasm-opt -O3 "${WASM_OPT_INLINING[@]}" "${WASM_OPT_FEATURES[@]}" "$built" -o "$built.opt"
    built="$built.opt"
    if [ -n "$heap" ]; then
        "$pages" "$built" "$built.pages" --heap "$heap" ${max:+--max "$max"}
        built="$built.pages"
    fi
    if [ "$mode" = check ]; then
        if cmp -s "$built" "$committed"; then
            echo "ok       plugins/$name/$name.wasm ($(wc -c <"$built") bytes)"
        else
            echo "DIFFERS  plugins/$name/$name.wasm: rebuilt from source it is not the committed file" >&2
            status=1
        fi
    else
        cp "$built" "$committed"
        echo "wrote    plugins/$name/$name.wasm ($(wc -c <"$committed") bytes)"
    fi
done

if [ "$found" -eq 0 ]; then
    echo "build-plugins.sh: no plugins found under $targets_dir/plugins" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "build-plugins.sh: committed plugins are out of date; run targets/build-plugins.sh and commit the result (same Rust toolchain: $(rustc --version))" >&2
fi
exit "$status"
