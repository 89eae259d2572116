#!/usr/bin/env bash
# Tokenizer speed, hearth vs llama.cpp, on the same 1.4 MB mixed corpus and the same vocabulary files, one
# thread each, alternating runs; prints medians and the ratio. Needs a llama.cpp build (LLAMA_DIR, default
# /opt/ref/llama.cpp, from the source bundle in the npm package node-llama-cpp) for the reference side.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_DIR=${LLAMA_DIR:-/opt/ref/llama.cpp}
CORPUS=${CORPUS:-tests/fixtures/tokenizer/corpus.inp}
RUNS=${RUNS:-5}
make -s build/libhearth.a
mkdir -p build/ref
cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -o build/ref/hearth_tokenize_corpus bench/tokenize_corpus.c build/libhearth.a -lm -pthread
cc -O2 -o build/ref/tokenize_corpus scripts/llamacpp/tokenize_corpus.c -I"$LLAMA_DIR/include" -I"$LLAMA_DIR/ggml/include" \
   -L"$LLAMA_DIR/build/bin" -lllama -lggml -lggml-base -Wl,-rpath,"$LLAMA_DIR/build/bin"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-12s %10s %10s %8s\n" vocab "hearth s" "llama.cpp s" "speedup"
for v in gemma-4 llama-bpe qwen2 llama-spm; do
    f=../shared/data/vocab/ggml-vocab-$v.gguf
    h=(); l=()
    for r in $(seq "$RUNS"); do
        h+=("$(taskset -c 0 build/ref/hearth_tokenize_corpus "$f" "$CORPUS" | cut -d' ' -f1)")
        l+=("$(taskset -c 0 build/ref/tokenize_corpus "$f" "$CORPUS" /dev/null)")
    done
    hm=$(printf '%s\n' "${h[@]}" | median); lm=$(printf '%s\n' "${l[@]}" | median)
    printf "%-12s %10.3f %10.3f %7.1fx\n" "$v" "$hm" "$lm" "$(echo "$lm / $hm" | bc -l)"
done
echo "(medians of $RUNS runs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F))"
