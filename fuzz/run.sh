#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one job at a time, and fails
# with the target's output when one finds a crash, a hang or a leak.
#
#   fuzz/run.sh 300
#
# Needs the nightly toolchain; installs cargo-fuzz when it is missing. New corpus
# entries go to a scratch copy of fuzz/corpus, so the tree keeps only the seeds.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
'' | *[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

targets=(load_invoke simple_ops codec transcript)
cargo +nightly fuzz build -O

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    cp corpus/"$target"/* "$scratch/$target/"
    echo "== fuzz $target for ${seconds}s"
    log="$scratch/$target.log"
    if ! cargo +nightly fuzz run -O "$target" "$scratch/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz/run.sh: target $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" || true
    tail -n 1 "$log"
done
echo "fuzz/run.sh: ${#targets[@]} targets ran ${seconds}s each without a crash"
