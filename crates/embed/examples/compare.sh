#!/usr/bin/env bash
# Runs the BERT embedder and sentence-transformers on the same sentences, alternately,
# ROUNDS times, and prints each run and each round's throughput ratio (ours / theirs).
# These machines are shared and noisy: compare ratios of neighbouring runs.
#
# usage: crates/embed/examples/compare.sh [N] [ROUNDS] [PYTHON]
#   N       sentences (first N lines of ../shared/data/rustdoc-sentences.txt), default 2000
#   ROUNDS  default 3
#   PYTHON  an interpreter with sentence-transformers installed, default python3
set -euo pipefail
cd "$(dirname "$0")/../../.."
n="${1:-2000}"
rounds="${2:-3}"
python="${3:-python3}"
data="${BRAIN_SENTENCES:-../shared/data/rustdoc-sentences.txt}"

cargo build -q --release -p embed --example throughput --example fetch_model
model="${BRAIN_MODEL_DIR:-$(./target/release/examples/fetch_model)}"

for r in $(seq "$rounds"); do
    ours=$(BRAIN_MODEL_DIR="$model" ./target/release/examples/throughput "$data" "$n" | sed -n 1p)
    theirs=$("$python" crates/embed/examples/throughput_st.py "$model" "$data" "$n" 64 2>/dev/null)
    echo "$ours"
    echo "$theirs"
    a=$(sed -E 's/.* = ([0-9.]+) sentences\/s.*/\1/' <<<"$ours")
    b=$(sed -E 's/.* = ([0-9.]+) sentences\/s.*/\1/' <<<"$theirs")
    echo "round $r: ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }') (load $(cut -d' ' -f1 /proc/loadavg))"
done
