#!/usr/bin/env bash
# device_run.sh — the one command for the GPU machine: data, training, export, checks. Run from the repo root:
#     bash scripts/demo/device_run.sh
# Needs python3 (or $PYTHON) with torch (CUDA) and numpy, a C compiler for build/hearth; no network. Wall time about 8 min:
# hearth builds while data is generated (<= 70 s, 15 processes), training runs TRAIN_SECONDS (default 300),
# then export (F32), `hearth quantize` (Q8_0), an export check (hearth's logits vs PyTorch's on the trained
# weights) and a quick exact-match evaluation through hearth on held-out cases (no tsc there).
# Writes to $OUT (default out/demo), every file under 16 MB:
#     device_run.log     everything printed (loss curve, held-out loss, checks, evaluation)
#     config.json        the model's hyperparameters
#     weights-NN.npz     the trained parameters, float16 shards (also written every 100 s while training)
#     eval.json          the quick evaluation's cases and outputs
# models/default.gguf is then made where the files land: scripts/demo/assemble.sh DIR (export + quantize).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-out/demo}
TRAIN_SECONDS=${TRAIN_SECONDS:-300}
SEED=${SEED:-1}
EXAMPLES=${EXAMPLES:-800000}     # smaller values and PYTHON=... make a local dry run possible
WORKERS=${WORKERS:-15}
BATCH_TOKENS=${BATCH_TOKENS:-65536}
HELD_OUT=${HELD_OUT:-512}
PY=${PYTHON:-python3}
EVAL_ARGS=${EVAL_ARGS:---ts 120 --py 40 --log 40 --max-tokens 900}
INIT=${INIT:-}                    # weights-NN.npz directory from an earlier run: continue training from it
mkdir -p "$OUT"
W=/tmp/hearth-demo
rm -rf "$W" && mkdir -p "$W"
export PYTHONUNBUFFERED=1
exec > >(tee "$OUT/device_run.log") 2>&1
t0=$(date +%s)
stamp() { echo "[device_run +$(( $(date +%s) - t0 ))s] $*"; }
D=scripts/demo
CFG=$D/config.json
TOK=$D/tokenizer.json

stamp "start: $(nproc) cores; $(nvidia-smi -L 2>/dev/null | head -1)"
"$PY" -c 'import torch, numpy; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "numpy", numpy.__version__)'

# hearth builds in the background while data is generated
( make -j4 build/hearth > "$W/make.log" 2>&1; echo $? > "$W/make.rc" ) &
build_pid=$!

# smoke test (2 steps); if PyTorch's fused attention fails on this machine, use the plain attention path
smoke() { timeout 120 "$PY" $D/train.py --config $CFG --tokenizer $TOK --out "$W/smoke" --examples 600 \
              --eval-examples 16 --workers 4 --max-steps 2 --seconds 60 --log-every 1 --batch-tokens 2048 > "$W/smoke.log" 2>&1; }
if smoke; then stamp "smoke test ok"; else
    tail -20 "$W/smoke.log"
    export DEMO_NO_SDPA=1
    if smoke; then stamp "smoke test ok without SDPA (DEMO_NO_SDPA=1)"; else tail -20 "$W/smoke.log"; stamp "smoke test failed; trying anyway"; fi
fi

stamp "training ($TRAIN_SECONDS s after data)"
"$PY" $D/train.py --config $CFG --tokenizer $TOK --out "$W/run" --shards "$OUT" --seed "$SEED" \
    --examples "$EXAMPLES" --data-seconds 70 --workers "$WORKERS" --seconds "$TRAIN_SECONDS" --save-every 100 \
    --batch-tokens "$BATCH_TOKENS" --eval-examples "$HELD_OUT" ${INIT:+--init "$INIT"}
stamp "train.py exited with $?"

wait $build_pid
if [ "$(cat "$W/make.rc" 2>/dev/null)" != 0 ]; then tail -30 "$W/make.log"; stamp "hearth did not build: no export check or evaluation here"; exit 0; fi
[ -f "$W/run/model.npz" ] || { stamp "no trained weights"; exit 1; }

"$PY" $D/export_gguf.py --config $CFG --tokenizer $TOK --weights "$W/run/model.npz" --out "$W/model.f32.gguf"
./build/hearth quantize "$W/model.f32.gguf" "$W/model.q8_0.gguf" Q8_0
./build/hearth info "$W/model.q8_0.gguf"
stamp "export check (hearth F32 vs PyTorch, 600 positions)"
timeout 60 "$PY" $D/check_export.py --config $CFG --tokenizer $TOK --hearth build/hearth \
    --weights "$W/run/model.npz" --gguf "$W/model.f32.gguf" --len 600 --threads 8
stamp "quick evaluation through hearth (exact match; tsc runs where the files land)"
timeout 100 "$PY" $D/eval_demo.py --model "$W/model.f32.gguf" --no-tsc $EVAL_ARGS --jobs "$WORKERS" --threads 1 \
    --json "$OUT/eval.json" --show 3
stamp "done"
ls -la "$OUT"
