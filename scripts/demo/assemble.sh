#!/usr/bin/env bash
# assemble.sh — build models/default.gguf from what scripts/demo/device_run.sh brought back.
# usage: scripts/demo/assemble.sh DIR [TYPE]
#   DIR holds config.json and weights-NN.npz (train.py's float16 shards); TYPE defaults to Q8_0.
#   Exports F32 with export_gguf.py (needs numpy), quantizes with `hearth quantize`, checks the result loads,
#   and writes models/default.gguf (refusing files over 40 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:?usage: assemble.sh DIR [TYPE]}
type=${2:-Q8_0}
py=${PYTHON:-python3}
"$py" -c 'import numpy' 2>/dev/null || py=/usr/bin/python3
make -s build/hearth
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" scripts/demo/export_gguf.py --config "$dir/config.json" --tokenizer scripts/demo/tokenizer.json \
    --weights "$dir" --out "$tmp/model.f32.gguf"
./build/hearth quantize "$tmp/model.f32.gguf" "$tmp/model.gguf" "$type"
size=$(stat -c %s "$tmp/model.gguf")
[ "$size" -le 40000000 ] || { echo "assemble: $type file is $size bytes, over 40 MB" >&2; exit 1; }
./build/hearth info "$tmp/model.gguf"
mkdir -p models
cp "$tmp/model.gguf" models/default.gguf
echo "assemble: models/default.gguf ($size bytes, $type)"
