#!/usr/bin/env bash
# synth.test.sh — `hearth synth` and `hearth bench` driven as a user would: synthesize `tiny`, describe it,
# generate from it, plan real shapes with --dry-run, reject bad arguments, and run a small benchmark whose
# --json output is parsed (the key names are what outside scripts read). Needs build/hearth; ~5 s.
set -u
cd "$(dirname "$0")/.."
H=./build/hearth
tmp=$(mktemp -d /tmp/hearth-synth-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL synth.test.sh: $*" >&2; fail=$((fail+1)); }
check() { local desc=$1; shift; if "$@"; then ok; else bad "$desc"; fi; }
has() { grep -q -- "$2" "$1"; } # file contains pattern

# ---- synthesize tiny; it loads, describes itself and generates
if $H synth tiny "$tmp/tiny.gguf" --type Q8_0 --seed 3 >"$tmp/synth.out" 2>&1; then ok; else bad "synth tiny"; cat "$tmp/synth.out" >&2; fi
check "synth prints what it wrote" has "$tmp/synth.out" "^wrote $tmp/tiny.gguf"
check "tiny is a few MB" test "$(stat -c %s "$tmp/tiny.gguf" 2>/dev/null || echo 0)" -lt 8000000
$H info "$tmp/tiny.gguf" >"$tmp/info.out" 2>&1 || bad "info tiny"
check "info: architecture" has "$tmp/info.out" "architecture:  gemma4"
check "info: layers" has "$tmp/info.out" "layers:        8"
check "info: vocabulary" has "$tmp/info.out" "vocabulary:    512 (gemma4)"
# greedy: sampled at the default temperature, the random model draws its end-of-turn id about one run in 30
ids=$($H run "$tmp/tiny.gguf" --prompt-ids 2,10,20,30 -n 4 --temp 0 --print-ids -t 2 2>"$tmp/run.err") || bad "run tiny: $(cat "$tmp/run.err")"
check "run prints 4 ids ($ids)" bash -c "[[ '$ids' =~ ^[0-9]+,[0-9]+,[0-9]+,[0-9]+$ ]]"
# same seed, same bytes; the file does not depend on the thread count
$H synth tiny "$tmp/tiny2.gguf" --type Q8_0 --seed 3 -t 1 -q >/dev/null 2>&1 || bad "synth tiny -t 1"
check "synth is deterministic" cmp -s "$tmp/tiny.gguf" "$tmp/tiny2.gguf"

# ---- real shapes without writing them
$H synth llama3.2-1b --dry-run >"$tmp/dry.out" 2>&1 || bad "dry-run llama3.2-1b"
check "dry-run: tensor count" has "$tmp/dry.out" "^tensors:      147"
check "dry-run: parameters" has "$tmp/dry.out" "(published: 1235814400, +0.00%)"
check "dry-run: tensor table" has "$tmp/dry.out" "blk.15.ffn_down.weight *Q6_K *\[8192, 2048\]"
$H synth gemma4-e2b --dry-run --type Q4_0 >"$tmp/dry2.out" 2>&1 || bad "dry-run gemma4-e2b"
check "dry-run: gemma4-e2b tensors" has "$tmp/dry2.out" "^tensors:      601"
check "dry-run writes nothing" test ! -e gemma4-e2b
$H synth --list >"$tmp/list.out" 2>&1 || bad "synth --list"
for m in tiny gemma4-e2b gemma4-e4b gemma4-31b gemma3-1b gemma3-4b llama3.2-1b llama3.1-8b qwen3-4b; do
    check "--list names $m" has "$tmp/list.out" "^$m "
done

# ---- usage errors exit 2 with a message
$H synth no-such-model "$tmp/x.gguf" >/dev/null 2>"$tmp/e1"; check "unknown model exits 2" test $? -eq 2
check "unknown model is named" has "$tmp/e1" "unknown synthetic model 'no-such-model'"
$H synth tiny "$tmp/x.gguf" --type Q9_9 >/dev/null 2>&1; check "unknown type exits 2" test $? -eq 2
$H synth tiny >/dev/null 2>&1; check "missing OUT exits 2" test $? -eq 2
check "nothing half-written" test ! -e "$tmp/x.gguf" -a ! -e "$tmp/x.gguf.tmp"
$H bench >/dev/null 2>&1; check "bench without a model exits 2" test $? -eq 2
$H bench "$tmp/tiny.gguf" -r 0 >/dev/null 2>&1; check "bench -r 0 exits 2" test $? -eq 2

# ---- bench: human output and --json
$H bench "$tmp/tiny.gguf" -p 8 -n 4 -r 2 -t 2 >"$tmp/bench.out" 2>&1 || bad "bench tiny"
check "bench: pp line" has "$tmp/bench.out" "^pp8 "
check "bench: tg line" has "$tmp/bench.out" "^tg4 "
check "bench: peak RSS" has "$tmp/bench.out" "^peak RSS:"
$H bench "$tmp/tiny.gguf" -p 8 -n 4 -r 1 -t 2 --json >"$tmp/bench.json" 2>"$tmp/bench.err" || bad "bench --json: $(cat "$tmp/bench.err")"
check "bench --json prints one line" test "$(wc -l <"$tmp/bench.json")" -eq 1
for k in pp_tok_s tg_tok_s peak_rss_bytes load_s cpu_s_per_token ttft_s decode_bytes_per_token tg_bandwidth_gb_s joules_per_token machine; do
    check "bench --json has $k" has "$tmp/bench.json" "\"$k\":"
done
if command -v python3 >/dev/null; then
    check "bench --json parses, with sane values" python3 - "$tmp/bench.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pp_tok_s"] > 0 and d["tg_tok_s"] > 0, d
assert d["pp_tok_s_min"] <= d["pp_tok_s"] <= d["pp_tok_s_max"]
assert d["peak_rss_bytes"] > 1e6 and d["load_s"] >= 0 and d["cpu_s_per_token"] > 0
assert d["ttft_s"] >= d["load_s"] and d["n_prompt"] == 8 and d["n_gen"] == 4 and d["reps"] == 1
assert d["arch"] == "gemma4" and 1e6 < d["n_params"] < 3e6 and d["machine"]["logical_cpus"] >= 1
assert 0 < d["decode_bytes_per_token"] < d["model_bytes"]
EOF
fi

# ---- bench --synthetic synthesizes once into the cache, then reuses it
export HEARTH_CACHE="$tmp/cache"
$H bench --synthetic tiny --type Q8_0 -p 8 -n 4 -r 1 -t 2 --json >"$tmp/s1.json" 2>"$tmp/s1.err" || bad "bench --synthetic: $(cat "$tmp/s1.err")"
cached="$tmp/cache/synth/tiny.Q8_0.seed0.gguf"
check "bench --synthetic caches the model" test -f "$cached"
check "bench --synthetic reports it" has "$tmp/s1.json" '"synthetic": "tiny"'
before=$(stat -c %Y "$cached" 2>/dev/null)
touch -d '2000-01-01' "$cached" 2>/dev/null; before=$(stat -c %Y "$cached" 2>/dev/null)
$H bench --synthetic tiny --type Q8_0 -p 8 -n 4 -r 1 -t 2 --json >/dev/null 2>&1 || bad "bench --synthetic (cached)"
check "bench --synthetic reuses the cache" test "$(stat -c %Y "$cached" 2>/dev/null)" = "$before"
$H bench --synthetic nope >/dev/null 2>&1; check "bench --synthetic unknown exits 2" test $? -eq 2

echo "synth.test.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
