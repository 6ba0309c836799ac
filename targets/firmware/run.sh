#!/usr/bin/env bash
# Builds the firmware example and runs it under QEMU (mps2-an386). Fails loudly on
# lint, an invalid plugin (build.rs), a wrong result, a non-zero exit, a fault or a
# hang, and when the transcripts the device recorded do not replay identical on the
# host (with `hookr replay`).
#
#   ./run.sh                        # the hash-pinned build (hookr without validate)
#   ./run.sh --features validate    # hookr validates on the device as well
#
# Extra arguments go to cargo. TIMEOUT (seconds, default 120) bounds the QEMU run.
set -euo pipefail
cd "$(dirname "$0")"

TIMEOUT="${TIMEOUT:-120}"
TARGET=thumbv7em-none-eabihf

# --- tools --------------------------------------------------------------------------
missing=()
command -v qemu-system-arm >/dev/null || missing+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null || missing+=(binutils-arm-none-eabi)
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "run.sh: installing ${missing[*]}"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}"
fi
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- lint and build -----------------------------------------------------------------
cargo fmt --check
cargo clippy --release -j 1 "$@" -- -D warnings
cargo build --release -j 1 "$@"
arm-none-eabi-size -A "target/$TARGET/release/hookr-firmware" |
    awk '/^\.text/ {t = $2} /^\.rodata/ {r = $2}
         END {printf "flash: .text %d + .rodata %d = %d bytes\n", t, r, t + r}'

# --- run ------------------------------------------------------------------------------
# The firmware records transcripts here through semihosting (QEMU runs in this folder).
rm -rf target/transcripts
mkdir -p target/transcripts
set +e
timeout "$TIMEOUT" cargo run --release -j 1 "$@" 2>&1 | tee "$tmp/run.log"
status=${PIPESTATUS[0]}
set -e
case "$status" in
    0) ;;
    124) echo "run.sh: FAIL: no exit within ${TIMEOUT}s (hang)" >&2; exit 1 ;;
    134) echo "run.sh: FAIL: QEMU aborted (CPU lockup: fault with no usable stack)" >&2; exit 1 ;;
    *) echo "run.sh: FAIL: firmware exited with status $status" >&2; exit 1 ;;
esac
if [ "$(tail -n 1 "$tmp/run.log")" != "PASS" ]; then
    echo "run.sh: FAIL: exit status 0 but the firmware did not report PASS" >&2
    exit 1
fi
# --- the device's transcripts replay identical on the host ----------------------------
for name in simple sensor; do
    transcript="target/transcripts/device-$name.hrt"
    [ -s "$transcript" ] || { echo "run.sh: FAIL: the firmware wrote no $transcript" >&2; exit 1; }
    if ! (cd ../.. && cargo run -q --features cli -- replay "targets/plugins/$name/$name.wasm" \
        "targets/firmware/$transcript"); then
        echo "run.sh: FAIL: the device's $name transcript does not replay identical on the host" >&2
        exit 1
    fi
done
echo "run.sh: firmware passed"
