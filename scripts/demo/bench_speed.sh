#!/usr/bin/env bash
# bench_speed.sh — generation speed of a model of the default model's shape, with the hearth binary.
# usage: [HEARTH=path/to/hearth] scripts/demo/bench_speed.sh [TYPE] [THREADS...]   (defaults: Q8_0, threads 1 2)
# Builds a random-weight model of scripts/demo/config.json in TYPE (speed does not depend on the weights,
# and random weights never end their turn early), evaluates a 300-token prompt, and reports generated
# tokens per second as (time for 1+N tokens - time for 1 token) / N with N = 256, best of 3. Run it on an
# otherwise idle machine: other processes on the same cores distort the numbers, most with 2 threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
type=${1:-Q8_0}; shift || true
threads=${*:-1 2}
py=python3; $py -c 'import numpy' 2>/dev/null || py=/usr/bin/python3
HEARTH=${HEARTH:-./build/hearth}
make -s build/hearth    # its `quantize` makes the file; $HEARTH (default: this one) runs it
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
$py scripts/demo/export_gguf.py --config scripts/demo/config.json --tokenizer scripts/demo/tokenizer.json \
    --weights random --out "$tmp/m.f32.gguf" 2>/dev/null
m="$tmp/m.f32.gguf"
[ "$type" = F32 ] || { ./build/hearth quantize "$m" "$tmp/m.gguf" "$type" 2>/dev/null; m="$tmp/m.gguf"; }
ids=$(seq 10 309 | paste -sd,)
t() { local s e; s=$(date +%s.%N); "$HEARTH" run "$m" --prompt-ids "$ids" -n "$1" --temp 0 --threads "$2" >/dev/null; e=$(date +%s.%N); python3 -c "print($e - $s)"; }
for th in $threads; do
    rates=""
    for _ in 1 2 3; do
        a=$(t 1 "$th"); b=$(t 257 "$th")
        rates="$rates $(python3 -c "print(256 / ($b - $a))")"
    done
    python3 -c "import sys; print('%s, %s thread(s): %.0f tokens/s generated (best of 3)' % ('$type', '$th', max(map(float, sys.argv[1:]))))" $rates
done
