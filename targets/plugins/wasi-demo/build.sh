#!/usr/bin/env bash
# Builds wasi-demo.wasm, the std Rust wasm32-wasip1 fixture that tests/wasi.rs embeds.
#
#   ./build.sh          rebuild and replace the committed wasi-demo.wasm
#   ./build.sh --check  rebuild and fail if it differs from the committed one
#
# Paths are remapped so the module does not depend on where the checkout lives. The
# bytes do depend on the compiler: rustc-version.txt records the one that built the
# committed module, and --check says so when yours differs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

rustup target add wasm32-wasip1 >/dev/null

cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# Cargo hashes a path package's absolute path into its symbol names, and those decide
# the order of code in the module: build through a fixed path (a symlink to this
# folder, held under a lock) so every checkout gives the same bytes.
fixed=/tmp/hookr-wasi-demo-src
exec 9>"$fixed.lock"
flock 9
ln -sfn "$here" "$fixed"
unset CARGO_ENCODED_RUSTFLAGS
export RUSTFLAGS="--remap-path-prefix=$fixed=/hookr/wasi-demo --remap-path-prefix=$cargo_home=/cargo"
export CARGO_TARGET_DIR="$here/target"
cargo build --manifest-path "$fixed/Cargo.toml" --release --locked --target wasm32-wasip1 -j 1

built="$CARGO_TARGET_DIR/wasm32-wasip1/release/wasi_demo.wasm"
if $check; then
  if cmp -s "$built" wasi-demo.wasm; then
    echo "wasi-demo.wasm is up to date"
  else
    echo "wasi-demo.wasm differs from a rebuild from source" >&2
    echo "  built with: $(cat rustc-version.txt 2>/dev/null || echo unknown)" >&2
    echo "  this rustc: $(rustc -V)" >&2
    exit 1
  fi
else
  cp "$built" wasi-demo.wasm
  rustc -V > rustc-version.txt
  echo "wrote wasi-demo.wasm ($(wc -c < wasi-demo.wasm) bytes)"
fi
