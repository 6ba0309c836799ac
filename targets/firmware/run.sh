#!/usr/bin/env bash
# Builds the firmware example and runs it under QEMU on two machines: mps2-an386 (4 MiB
# of RAM, the heap 2 MiB) and netduinoplus2 (an STM32F405 image whose memory map,
# memory-netduinoplus2.x, gives it RAM_BUDGET bytes of RAM in all). Fails loudly on
# lint, an invalid plugin (build.rs), flash over 512 KiB, a wrong result, a non-zero
# exit, a fault or a hang, an allocation the heap refused, RAM over the budget on
# netduinoplus2 (stack region + .data + .bss + heap peak, as the firmware measures
# it), log output that does not decode (the firmware logs through defmt;
# `defmt-print` decodes it against the ELF), and when the transcripts the device
# recorded do not replay identical on the host (with `hookr replay`).
#
#   ./run.sh                        # the hash-pinned build, on both machines
#   ./run.sh --features validate    # hookr validates on the device as well (mps2-an386 only)
#   ./run.sh --features panic-messages   # a panic logs its message (+106 KB of flash)
#
# Extra arguments go to cargo, and run the mps2-an386 image only. TIMEOUT (seconds,
# default 120) bounds each QEMU run.
set -euo pipefail
cd "$(dirname "$0")"

TIMEOUT="${TIMEOUT:-120}"
TARGET=thumbv7em-none-eabihf
ELF="target/$TARGET/release/hookr-firmware"
# Flash the image CI builds (no extra cargo arguments) may take: .vector_table + .text
# + .rodata + .data. Other builds (e.g. --features validate) print their figures only.
FLASH_LIMIT=$((512 * 1024))
limit=(--limit "$FLASH_LIMIT")
(($#)) && limit=()
# netduinoplus2: what memory-netduinoplus2.x gives the image, stack region included:
# the real chip's 128 KiB of main SRAM (README.md, "Machines and RAM budget").
RAM_BUDGET=$((128 * 1024))
# defmt-print decodes defmt 1.x frames; installed when missing, at this version.
DEFMT_PRINT_VERSION=1.2.0

# --- tools --------------------------------------------------------------------------
missing=()
command -v qemu-system-arm >/dev/null || missing+=(qemu-system-arm)
command -v arm-none-eabi-size >/dev/null || missing+=(binutils-arm-none-eabi)
command -v python3 >/dev/null || missing+=(python3)
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
if ! defmt-print --version 2>/dev/null | grep -q "$DEFMT_PRINT_VERSION"; then
    echo "run.sh: installing defmt-print $DEFMT_PRINT_VERSION"
    cargo install --locked "defmt-print@$DEFMT_PRINT_VERSION"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- lint and build -----------------------------------------------------------------
cargo fmt --check
cargo clippy --release -j 1 "$@" -- -D warnings
cargo clippy --release -j 1 --features panic-messages -- -D warnings
cargo clippy --release -j 1 --features netduinoplus2 -- -D warnings
cargo build --release -j 1 "$@"
cp "$ELF" "$tmp/mps2-an386.elf"
# Flash per part, from the symbol sizes (flash.py); fails over the limit.
python3 flash.py "$tmp/mps2-an386.elf" "${limit[@]}" \
    --embed simple=../plugins/simple/simple.wasm \
    --embed sensor=../plugins/sensor/sensor.wasm \
    --embed wapc-demo=../plugins/wapc-demo/wapc-demo.wasm \
    --embed "transcript simple.hrt=transcripts/simple.hrt" \
    --embed "transcript sensor.hrt=transcripts/sensor.hrt" ||
    { echo "run.sh: FAIL: flash over $FLASH_LIMIT bytes (table above)" >&2; exit 1; }

if ! (($#)); then
    cargo build --release -j 1 --features netduinoplus2
    cp "$ELF" "$tmp/netduinoplus2.elf"
    arm-none-eabi-size -A "$tmp/netduinoplus2.elf" | grep -E '^\.(vector_table|text|rodata|data|bss|uninit) '
fi

# --- run ------------------------------------------------------------------------------
# run MACHINE: runs the image built for MACHINE under QEMU and checks its decoded log;
# leaves it in $tmp/MACHINE.log.
run() {
    local machine=$1 elf="$tmp/$1.elf" log="$tmp/$1.log" status
    echo "run.sh: --- $machine"
    # The firmware records transcripts here through semihosting (QEMU runs in this folder).
    rm -rf target/transcripts
    mkdir -p target/transcripts
    # The firmware's stdout is defmt frames: kept raw, then decoded against the ELF.
    set +e
    timeout "$TIMEOUT" qemu-system-arm -machine "$machine" -nographic \
        -semihosting-config enable=on,target=native -kernel "$elf" >"$tmp/$machine.defmt"
    status=$?
    set -e
    defmt-print -e "$elf" --show-skipped-frames --log-format '{L} {s}' <"$tmp/$machine.defmt" | tee "$log" ||
        { echo "run.sh: FAIL: defmt-print could not decode the firmware's output on $machine" >&2; exit 1; }
    case "$status" in
        0) ;;
        124) echo "run.sh: FAIL: no exit within ${TIMEOUT}s on $machine (hang)" >&2; exit 1 ;;
        134) echo "run.sh: FAIL: QEMU aborted on $machine (CPU lockup: fault with no usable stack)" >&2; exit 1 ;;
        *) echo "run.sh: FAIL: firmware exited with status $status on $machine" >&2; exit 1 ;;
    esac
    # --- the decoded log -------------------------------------------------------------------
    if [ "$(tail -n 1 "$log")" != "INFO  PASS" ]; then
        echo "run.sh: FAIL: exit status 0 but the firmware's last decoded line is not PASS on $machine" >&2
        exit 1
    fi
    if grep -E '^(ERROR|WARN)|FAIL|malformed frame' "$log" >&2; then
        echo "run.sh: FAIL: the firmware logged the errors above on $machine" >&2
        exit 1
    fi
    # One line of each kind the run must show: checks, plugin log lines (hookr's logger,
    # both ABIs), replay, the figures.
    for want in \
        '^INFO  hookr firmware: ' \
        '^INFO  echo \{data: "Steve"\} -> \{data: "Hello, Steve!"\}$' \
        '^INFO  validate \{sensor: "attic", celsius: 120.0, humidity: NaN, ' \
        '^INFO    \[plugin\] sensor "attic": celsius_high$' \
        '^INFO    \[plugin\] a waPC console line$' \
        '^INFO  trap -> ' \
        '^INFO  vowel on 16384 B with 50000 fuel -> out of fuel, as budgeted$' \
        '^INFO  replayed the host.s simple transcript: [0-9]+ calls identical' \
        '^INFO  replayed the host.s sensor transcript: [0-9]+ calls identical' \
        '^INFO  heap of (simple|sensor|wapc-demo), stage by stage' \
        '^INFO  simple and sensor alive together, each called: ' \
        '^INFO  heap: peak [0-9]+ B of [0-9]+ B over everything, [0-9]+ B in use at the end, 0 failed allocations$' \
        '^INFO  ram: stack region [0-9]+ B \+ ' \
        '^INFO  stack: high-water [0-9]+ B since reset$'; do
        grep -Eq "$want" "$log" ||
            { echo "run.sh: FAIL: no decoded line matches /$want/" >&2; exit 1; }
    done
    # What wasmi keeps in an engine besides the code, measured on mps2-an386 alone.
    if [ "$machine" = mps2-an386 ] &&
        ! grep -Eq '^INFO  engine buffers: validator [0-9]+ B .*; translator [0-9]+ B ' "$log"; then
        echo "run.sh: FAIL: no engine buffers line on $machine" >&2
        exit 1
    fi
    # --- the device's transcripts replay identical on the host ----------------------------
    for name in simple sensor; do
        transcript="target/transcripts/device-$name.hrt"
        [ -s "$transcript" ] || { echo "run.sh: FAIL: the firmware wrote no $transcript" >&2; exit 1; }
        if ! (cd ../.. && cargo run -q --features cli -- replay "targets/plugins/$name/$name.wasm" \
            "targets/firmware/$transcript"); then
            echo "run.sh: FAIL: the device's $name transcript does not replay identical on the host ($machine)" >&2
            exit 1
        fi
    done
}

run mps2-an386
if ! (($#)); then
    run netduinoplus2
    # RAM in all: stack region + .data + .bss + heap peak, as the firmware printed it.
    total=$(sed -nE 's/^INFO  ram: .* = ([0-9]+) B$/\1/p' "$tmp/netduinoplus2.log")
    [ -n "$total" ] || { echo "run.sh: FAIL: netduinoplus2 printed no RAM total" >&2; exit 1; }
    echo "run.sh: netduinoplus2 RAM: $total B of the $RAM_BUDGET B budget"
    if ((total > RAM_BUDGET)); then
        echo "run.sh: FAIL: netduinoplus2 needs $total B of RAM, over the $RAM_BUDGET B budget" >&2
        exit 1
    fi
fi
echo "run.sh: firmware passed"
