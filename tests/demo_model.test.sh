#!/usr/bin/env bash
# demo_model.test.sh — the committed default model loads, is small, and answers a request end to end
# (chat prompt -> ids -> hearth run -> text); and, where PyTorch is installed, a random model exported by
# scripts/demo/export_gguf.py computes in hearth what scripts/demo/model_torch.py computes.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/hearth
M=models/default.gguf
if [ -f $M ]; then
    size=$(stat -c %s $M)
    [ "$size" -le 40000000 ] || { echo "demo_model: $M is $size bytes (> 40 MB)"; exit 1; }
    ./build/hearth info $M | grep -q "architecture:  gemma4"
    python3 scripts/demo/eval_demo.py --model $M --ts 2 --py 1 --log 1 --no-tsc --show 0 --max-tokens 400 > /tmp/demo_model.$$
    grep -q "| log line → JSON | 1 |" /tmp/demo_model.$$ || { cat /tmp/demo_model.$$; exit 1; }
    rm -f /tmp/demo_model.$$
    echo "demo_model: $M loads and answers"
else
    echo "demo_model: no $M yet (skipped the end-to-end part)"
fi
for py in python3 /usr/bin/python3; do
    if $py -c 'import torch, numpy' 2>/dev/null; then
        $py scripts/demo/check_export.py --config scripts/demo/config.json --tokenizer scripts/demo/tokenizer.json \
            --hearth build/hearth --len 64
        exit 0
    fi
done
echo "demo_model: no torch here (skipped the export check)"
