#!/usr/bin/env bash
# Builds the llama.cpp reference runner used by the comparison scripts, against a llama.cpp source tree
# built with CMake (LLAMA_DIR, default /opt/ref/llama.cpp: cloned from the git bundle in the npm package
# node-llama-cpp). llama.cpp is only run for comparison; none of it is part of hearth.
set -eu
LLAMA_DIR=${LLAMA_DIR:-/opt/ref/llama.cpp}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/../../build/ref"
cc -O2 -o "$here/../../build/ref/dump_logits" "$here/dump_logits.c" -I"$LLAMA_DIR/include" -I"$LLAMA_DIR/ggml/include" \
   -L"$LLAMA_DIR/build/bin" -lllama -lggml -lggml-base -Wl,-rpath,"$LLAMA_DIR/build/bin"
echo "built build/ref/dump_logits"
