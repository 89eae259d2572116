#!/usr/bin/env bash
# serve.test.sh — `hearth serve` end to end, on loopback, against servers this script starts on free ports:
#   curl: health, authentication, limits (405, 413 with and without a length, malformed JSON), SSE and NDJSON
#         streams, command-line errors, clean shutdown on SIGTERM with a stream running;
#   the official openai and ollama npm clients (tests/node/clients.mjs; `npm ci` there when node_modules is
#   missing): chat, streaming, usage, logprobs, stop strings, prefix reuse, errors 400/401/404/413/429,
#   disconnect cancellation, a fuzz of mutated and garbage bodies, 32 concurrent streaming clients, and
#   aggregate tok/s of 8 streams against 1 (appended to build/serve-perf.log).
# Ends with "serve: N passed, M failed"; exits non-zero on failure.
set -u
cd "$(dirname "$0")/.."
HEARTH=${HEARTH:-./build/hearth} # another build (e.g. with sanitizers) can be tested the same way
M=tests/fixtures/models
KEY=test-key-$$
pass=0
fail=0
tmp=$(mktemp -d)
pids=()

KEEP=${SERVE_TEST_KEEP:-}
KEEP_LABEL="serve: server logs"
. tests/serve_lib.sh

# node_checks NAME ARGS...: run clients.mjs, count its ok / not ok lines
node_checks() { local name=$1; shift; node_tally "$name" 120 0 tests/node/clients.mjs "$@"; }

if [ ! -x "$HEARTH" ]; then
    echo "serve: build/hearth is missing (run make)"
    echo "serve: 0 passed, 1 failed"
    exit 1
fi

# ------------------------------------------------------------------------------------ command line
"$HEARTH" serve --parallel 0 >/dev/null 2>"$tmp/err"
check "cli: --parallel 0 is a usage error" [ $? -eq 2 ]
"$HEARTH" serve no-such-model.gguf >/dev/null 2>"$tmp/err"
check "cli: a missing model exits 3" [ $? -eq 3 ]
"$HEARTH" serve --help | grep -q -- '--api-key'
check "cli: --help documents the options" [ $? -eq 0 ]

# --------------------------------------------------------------------------------- the main server
start main "$M/gemma4-q.f32.gguf" "$M/llama.f32.gguf" --api-key "$KEY" --parallel 8 --ctx 512 --threads 1 || exit 1
MAIN=http://127.0.0.1:$PORT
MAIN_PID=$PID
grep -q 'listening on http://127.0.0.1:' "$tmp/main.log"
check "binds to loopback by default" [ $? -eq 0 ]

H="Authorization: Bearer $KEY"
code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
check "curl: health needs the key (401)" [ "$(code "$MAIN/")" = 401 ]
[ "$(code -H "$H" "$MAIN/")" = 200 ] && grep -qx 'hearth is running' "$tmp/body"
check "curl: health" [ $? -eq 0 ]
[ "$(code -H "Authorization: Bearer nope" "$MAIN/v1/models")" = 401 ] && grep -q '"code":"invalid_api_key"' "$tmp/body"
check "curl: wrong key (401, OpenAI shape)" [ $? -eq 0 ]
[ "$(code -H "Authorization: Bearer $KEY" "$MAIN/api/tags")" = 200 ]
check "curl: right key" [ $? -eq 0 ]
check "curl: 405" [ "$(code -H "$H" "$MAIN/v1/chat/completions")" = 405 ]
check "curl: malformed JSON (400)" [ "$(code -H "$H" -d '{"messages": [1,' "$MAIN/v1/chat/completions")" = 400 ]
head -c $((9 << 20)) /dev/zero | tr '\0' 'a' >"$tmp/big"
check "curl: 413 with Content-Length (answered before the body)" \
    [ "$(code -H "$H" -H 'Content-Type: application/json' --data-binary @"$tmp/big" "$MAIN/v1/chat/completions")" = 413 ]
[ "$(code -H "$H" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big" "$MAIN/api/chat")" = 413 ] &&
    grep -q '"error":"' "$tmp/body"
check "curl: 413 with a chunked body (Ollama-shaped from /api)" [ $? -eq 0 ]
curl -sN -H "$H" -d '{"model":"llama.f32","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true}' \
    "$MAIN/v1/chat/completions" >"$tmp/sse"
tail -c 14 "$tmp/sse" | cmp -s - <(printf 'data: [DONE]\n\n')
check "curl: SSE stream ends with [DONE]" [ $? -eq 0 ]
curl -sN -H "$H" -d '{"model":"llama.f32:latest","prompt":"hi","options":{"num_predict":3}}' "$MAIN/api/generate" >"$tmp/nd"
check "curl: NDJSON stream ends with done" grep -q '"done":true' <(tail -n 1 "$tmp/nd")
check "curl: /api/version" [ "$(code -H "$H" "$MAIN/api/version")" = 200 ]

node --version >/dev/null 2>&1 || { bad "node is not installed"; echo "serve: $pass passed, $fail failed"; exit 1; }
if [ ! -d tests/node/node_modules/openai ] || [ ! -d tests/node/node_modules/ollama ]; then
    (cd tests/node && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || bad "npm ci in tests/node"
fi
node_checks api api "$MAIN" "$KEY" gemma4-q.f32 llama.f32 512
node_checks fuzz fuzz "$MAIN" "$KEY" llama.f32 400
node_checks load load "$MAIN" "$KEY" gemma4-q.f32 32
curl -s -H "$H" "$MAIN/metrics" >"$tmp/metrics"
grep -q 'hearth_requests_total{endpoint="/v1/chat/completions",status="200"}' "$tmp/metrics" &&
    grep -q 'hearth_generated_tokens_total{model="gemma4-q.f32"} [1-9]' "$tmp/metrics"
check "metrics count requests and tokens" [ $? -eq 0 ]

kill "$MAIN_PID"

# ------------------------------------------------------------------------- queue limit, cancellation
start busy "$M/gemma4-q.Q4_K_M.gguf" --parallel 1 --queue 1 --ctx 4096 --threads 1 || exit 1
BUSY=http://127.0.0.1:$PORT
BUSY_PID=$PID
node_checks busy busy "$BUSY" gemma4-q.Q4_K_M

# SIGTERM with a stream running: the stream ends with an error event, the server exits 0
curl -sN -d '{"prompt":"x","max_tokens":100000,"stream":true}' "$BUSY/v1/completions" >"$tmp/cut" &
cpid=$!
for _ in $(seq 200); do [ -s "$tmp/cut" ] && break; sleep 0.02; done
kill -TERM "$BUSY_PID"
wait "$BUSY_PID"
check "SIGTERM: clean exit with a stream running" [ $? -eq 0 ]
wait "$cpid"
check "SIGTERM: the stream is closed with an error event" grep -q 'shutting down' "$tmp/cut"

HEARTH_API_KEY=from-env start inuse "$M/llama.f32.gguf" --threads 1 -q || exit 1
[ "$(code "http://127.0.0.1:$PORT/api/tags")" = 401 ] &&
    [ "$(code -H "Authorization: Bearer from-env" "http://127.0.0.1:$PORT/api/tags")" = 200 ]
check "HEARTH_API_KEY sets the key" [ $? -eq 0 ]
"$HEARTH" serve "$M/llama.f32.gguf" --port "$PORT" --threads 1 >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q 'cannot listen' "$tmp/err"
check "cli: a port in use exits 1 and says so" [ $? -eq 0 ]
kill "$PID"

# ---------------------------------------------------------------------- batching: 8 streams vs 1
# A quantized model: dequantizing a weight row is shared by every stream in the batch, so batching pays
# even where the weights fit in cache (see docs/serve.md for the f32 numbers).
start perf "$M/gemma4-q.Q4_K_M.gguf" --parallel 8 --ctx 512 --threads 1 -q || exit 1
node_checks perf perf "http://127.0.0.1:$PORT" gemma4-q.Q4_K_M 128 8 "$PID" "$(getconf CLK_TCK)"
grep '^# perf' "$tmp/perf.out" | sed "s/^# perf /$(date -u +%FT%TZ) $(nproc) cores: /" >>build/serve-perf.log
kill "$PID"

if [ "$fail" -gt 0 ]; then
    for f in "$tmp"/*.log; do echo "--- $f"; grep -v 'GET /metrics' "$f" | tail -n 20; done
fi
echo "serve: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
