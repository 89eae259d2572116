#!/usr/bin/env bash
# tools.test.sh — structured output and tool calls through `hearth serve`, end to end:
#   - one server per tool-call format, each a random-weight fixture model with a real template given by
#     --chat-template: Qwen3 (Hermes <tool_call>), Llama 3.1 (JSON "parameters"), Gemma 4 (<|tool_call>);
#   - tests/node/tools.mjs drives them with the official openai and ollama clients: response_format
#     json_schema over 24 schemas, json_object, Ollama format, tool_choice required / named / auto / none,
#     streamed tool-call deltas, conversations continued with role "tool" results, and the 400s;
#   - python3-jsonschema, an independent validator, is the referee: every JSON document and every call's
#     arguments must validate against its schema (nothing but the grammar makes random weights write them).
# Ends with "tools: N passed, M failed"; exits non-zero on failure.
set -u
cd "$(dirname "$0")/.."
HEARTH=${HEARTH:-./build/hearth}
M=tests/fixtures/models
T=${HEARTH_SHARED:-../shared}/data/templates
pass=0
fail=0
tmp=$(mktemp -d)
pids=()

KEEP=${TOOLS_TEST_KEEP:-}
KEEP_LABEL="tools: files"
. tests/serve_lib.sh

# node_checks NAME ARGS...: run tools.mjs, count its ok / not ok lines
node_checks() { local name=$1; shift; node_tally "$name" 150 1 tests/node/tools.mjs "$@"; }

if [ ! -x "$HEARTH" ]; then echo "tools: build/hearth is missing (run make)"; echo "tools: 0 passed, 1 failed"; exit 1; fi
if ! node --version >/dev/null 2>&1; then bad "node is not installed"; echo "tools: $pass passed, $fail failed"; exit 1; fi
if [ ! -d tests/node/node_modules/openai ] || [ ! -d tests/node/node_modules/ollama ]; then
    (cd tests/node && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || bad "npm ci in tests/node"
fi

"$HEARTH" serve "$M/llama.f32.gguf" --chat-template /nonexistent.jinja >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "cannot open" "$tmp/err" && ok "cli: --chat-template with a missing file is a usage error" ||
    bad "cli: --chat-template with a missing file is a usage error"
printf '{%% for m in messages %%}{{ m.content }' >"$tmp/broken.jinja"
"$HEARTH" serve "$M/llama.f32.gguf" --chat-template "$tmp/broken.jinja" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--chat-template" "$tmp/err" && ok "cli: a template that does not render is reported at start" ||
    bad "cli: a template that does not render is reported at start"

start hermes -q "$M/qwen3.f32.gguf" --chat-template "$T/Qwen-Qwen3-0.6B.jinja" --parallel 4 --ctx 4096 --threads 1 || exit 1
HERMES=http://127.0.0.1:$PORT
start llama3 -q "$M/llama.f32.gguf" --chat-template "$T/meta-llama-Llama-3.1-8B-Instruct.jinja" --parallel 4 --ctx 4096 --threads 1 || exit 1
LLAMA3=http://127.0.0.1:$PORT
start gemma4 -q "$M/gemma4-q.f32.gguf" --chat-template "$T/google-gemma-4-31B-it.jinja" --parallel 4 --ctx 4096 --threads 1 || exit 1
GEMMA4=http://127.0.0.1:$PORT

mkdir -p "$tmp/out"
t0=$(date +%s)
node_checks schemas schemas "$HERMES" qwen3.f32 "$tmp/out"
node_checks tools-hermes tools "$HERMES" qwen3.f32 "$tmp/out"
node_checks tools-llama3 tools "$LLAMA3" llama.f32 "$tmp/out"
node_checks tools-gemma4 tools "$GEMMA4" gemma4-q.f32 "$tmp/out"
t1=$(date +%s)

python3 - "$tmp/out" <<'PY'
import json, os, sys
import jsonschema
d = sys.argv[1]
n = bad = cut = 0
for line in open(os.path.join(d, "index.tsv"), encoding="utf-8"):
    schema_f, out_f, status, label = line.rstrip("\n").split("\t")
    if status != "complete":
        cut += 1
        continue
    n += 1
    schema = json.load(open(os.path.join(d, schema_f), encoding="utf-8"))
    text = open(os.path.join(d, out_f), encoding="utf-8", errors="strict").read()
    try:
        doc = json.loads(text)
        cls = jsonschema.validators.validator_for(schema)
        cls(schema, format_checker=cls.FORMAT_CHECKER).validate(doc)
    except Exception as e:
        bad += 1
        print(f"not ok - {label}: {type(e).__name__}: {str(e)[:300]}\n  schema: {json.dumps(schema)[:400]}\n  output: {text[:300]!r}")
from importlib.metadata import version
print(f"# validated {n - bad}/{n} outputs with python-jsonschema {version('jsonschema')} ({cut} cut by max_tokens, not validated)")
sys.exit(1 if bad or n < 40 else 0)
PY
if [ $? -eq 0 ]; then ok "every document and every call's arguments validate against their schemas"; else bad "schema validation"; fi
echo "# node checks took $((t1 - t0)) s"

if [ "$fail" -gt 0 ]; then
    for f in "$tmp"/*.log; do echo "--- $f"; tail -n 20 "$f"; done
fi
echo "tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
