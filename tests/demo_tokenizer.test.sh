#!/usr/bin/env bash
# demo_tokenizer.test.sh — hearth's "gemma4" tokenizer gives the ids the demo model was trained on
# (scripts/demo/bpe.py with scripts/demo/tokenizer.json), on generated prompts, answers and edge cases.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/libhearth.a
cc -std=c17 -O2 -Isrc -Iinclude scripts/demo/tok_ids.c build/libhearth.a -lm -pthread -o build/tok_ids
python3 scripts/demo/check_tokenizer.py scripts/demo/tokenizer.json build/tok_ids --n 300
