#!/usr/bin/env bash
# router_serve.test.sh — `hearth serve --route` end to end on 127.0.0.1: a second `hearth serve` plays the
# cloud, the fake upstream (tests/router/fake_upstream.py) plays a broken or echoing one. Checks the
# x-hearth-route header and the "hearth" body field in both APIs, streamed and whole, redaction through the
# server, block (403), and that every request is answered when upstreams fail. Prints "router_serve: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
H=./build/hearth
M=tests/fixtures/models/qwen3.f32.gguf
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
tmp=$(mktemp -d)
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port_of() { for _ in $(seq 200); do p=$(grep -o 'listening on http://[^ ]*' "$1" 2>/dev/null | sed 's#.*:##'); [ -n "$p" ] && { echo $p; return; }; sleep 0.05; done; }

export CLOUD_KEY=serve-test-key-31337
# the cloud requires the key: the router must send it from the environment
timeout 120 $H serve $M --port 0 -q --parallel 2 --api-key "$CLOUD_KEY" 2>"$tmp/cloud.err" & pids+=($!)
timeout 120 python3 tests/router/fake_upstream.py --port-file "$tmp/fport" --log "$tmp/up.jsonl" --slow 3 --lifetime 110 & pids+=($!)
CP=$(port_of "$tmp/cloud.err")
for _ in $(seq 100); do [ -s "$tmp/fport" ] && break; sleep 0.05; done
FP=$(cat "$tmp/fport")
[ -n "$CP" ] && [ -n "$FP" ] && ok || { bad "upstreams did not start"; echo "router_serve: $pass passed, $fail failed"; exit 1; }

cat > "$tmp/r.yaml" <<EOF
upstreams:
  - name: cloud            # another hearth serve
    base_url: http://127.0.0.1:$CP/v1
    model: qwen3.f32
    api_key_env: CLOUD_KEY
  - name: echo
    base_url: http://127.0.0.1:$FP/echo/v1
    model: big
  - name: broken
    base_url: http://127.0.0.1:$FP/truncated/v1
    model: big
  - name: slow
    base_url: http://127.0.0.1:$FP/slow/v1
    model: big
    timeouts: {idle: 1}
  - name: dead
    base_url: http://127.0.0.1:9/v1
    model: big
route:
  default: cloud
  on_sensitive: local
  rules:
    - {name: scrub, when: {keywords: [scrub]}, to: echo, on_sensitive: redact}
    - {name: strict, when: {keywords: [payroll]}, to: echo, on_sensitive: block}
    - {name: broken, when: {keywords: [broken]}, to: broken}
    - {name: slow, when: {keywords: [slowly]}, to: slow}
    - {name: dead, when: {keywords: [dead]}, to: dead}
EOF
timeout 120 $H serve $M --port 0 --route "$tmp/r.yaml" --audit "$tmp/audit.jsonl" -q 2>"$tmp/router.err" & pids+=($!)
RP=$(port_of "$tmp/router.err")
[ -n "$RP" ] && ok || { bad "router did not start: $(cat $tmp/router.err)"; echo "router_serve: $pass passed, $fail failed"; exit 1; }
U=http://127.0.0.1:$RP

post() { # path body -> $tmp/h (headers), $tmp/b (body); echoes the status
    curl -s -m 30 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$U$1" -H 'Content-Type: application/json' -d "$2"
}
hdr() { grep -i "^x-hearth-route:" "$tmp/h" | tr -d '\r' | sed 's/^[^:]*: //'; }

# whole answer from the other hearth serve
st=$(post /v1/chat/completions '{"model":"anything","messages":[{"role":"user","content":"hello"}],"max_tokens":4}')
[ "$st" = 200 ] && [ "$(hdr)" = "cloud:cloud" ] && ok || bad "cloud whole: $st $(hdr) $(cat $tmp/b)"
python3 -c "
import json; b=json.load(open('$tmp/b'))
assert b['object']=='chat.completion' and b['hearth']['route']=='cloud:cloud' and b['usage']['completion_tokens']>0, b
assert b['choices'][0]['message']['content'], b" && ok || bad "cloud whole body: $(cat $tmp/b)"
# streamed, with usage
st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"hello"}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}')
[ "$st" = 200 ] && [ "$(hdr)" = "cloud:cloud" ] && grep -q '"hearth":{"route":"cloud:cloud"' "$tmp/b" && grep -q '"usage":{"prompt_tokens"' "$tmp/b" &&
    [ "$(tail -c 15 $tmp/b | tr -d '\n')" = "data: [DONE]" ] && ok || bad "cloud stream: $st $(hdr) $(cat $tmp/b)"

# redaction through the server: the echo upstream sees placeholders, the client sees its own text
st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"scrub: mail maria.garcia@mailbox.org"}],"stream":true}')
python3 - "$tmp/b" <<'PY' && ok || bad "redacted stream: $(cat $tmp/b)"
import json, sys
text = "".join(json.loads(l[6:])["choices"][0]["delta"].get("content", "") for l in open(sys.argv[1])
               if l.startswith("data: {") and json.loads(l[6:]).get("choices"))
assert text == "ECHO: scrub: mail maria.garcia@mailbox.org", text
PY
tail -1 "$tmp/up.jsonl" | grep -q '"content": "scrub: mail <EMAIL_1>"' && ! grep -q mailbox.org "$tmp/up.jsonl" && ok || bad "upstream saw: $(tail -1 $tmp/up.jsonl)"

# sensitive: kept local (header says so); block: 403 in the API's error shape, nothing sent
st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"key AKIA2E0A8F3B244C9986 leaked"}],"max_tokens":3}')
[ "$st" = 200 ] && [ "$(hdr)" = local ] && grep -q '"action":"local"' "$tmp/b" && ok || bad "kept local: $st $(hdr) $(cat $tmp/b)"
n=$(wc -l < "$tmp/up.jsonl")
st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"payroll for SSN 536-22-8170"}]}')
[ "$st" = 403 ] && grep -q '"error":{"message":"blocked by the privacy guard' "$tmp/b" && [ "$(wc -l < $tmp/up.jsonl)" = "$n" ] && ok || bad "block: $st $(cat $tmp/b)"
st=$(post /api/chat '{"model":"x","messages":[{"role":"user","content":"payroll for SSN 536-22-8170"}],"stream":false}')
[ "$st" = 403 ] && grep -q '^{"error":"blocked by the privacy guard' "$tmp/b" && ok || bad "block ollama: $st $(cat $tmp/b)"

# failover: every request answered; a broken stream is continued locally; header says local when known in time
st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"dead upstream"}],"max_tokens":4,"stream":true}')
[ "$st" = 200 ] && [ "$(hdr)" = local ] && grep -q '"failover":"cloud:dead: unreachable' "$tmp/b" && ok || bad "dead stream: $st $(hdr) $(cat $tmp/b)"
start=$(date +%s)
st=$(post /api/chat '{"model":"x","messages":[{"role":"user","content":"answer slowly"}],"options":{"num_predict":4}}')
took=$(( $(date +%s) - start ))
[ "$st" = 200 ] && [ "$(hdr)" = local ] && grep -q '"done":true' "$tmp/b" && grep -q '"failover":"cloud:slow: timeout' "$tmp/b" && [ $took -le 5 ] && ok ||
    bad "slow (ollama stream): $st $(hdr) ${took}s $(cat $tmp/b)"
st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"broken stream"}],"max_tokens":4,"stream":true}')
python3 - "$tmp/b" <<'PY' && ok || bad "broken stream continued: $(cat $tmp/b)"
import json, sys
ev = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: {")]
text = "".join(e["choices"][0]["delta"].get("content", "") for e in ev if e.get("choices"))
last = [e for e in ev if "hearth" in e][-1]["hearth"]
assert text.startswith("Hello from") and len(text) > len("Hello from"), text
assert last["route"] == "local" and last["failover"].startswith("cloud:broken: truncated"), last
PY
[ "$(hdr)" = cloud:broken ] && ok || bad "broken stream header (sent with the first cloud text): $(hdr)"
st=$(post /v1/chat/completions '{"messages":[{"role":"user","content":"broken stream"}],"max_tokens":4}')
[ "$st" = 200 ] && [ "$(hdr)" = local ] && grep -q '"content":"Hello from' "$tmp/b" && ok || bad "broken whole: $st $(hdr) $(cat $tmp/b)"

# hints and the Ollama API's load call still work; unknown hint upstream is a 400
st=$(post /api/chat '{"model":"hearth:local","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":3}}')
[ "$st" = 200 ] && [ "$(hdr)" = local ] && grep -q '"rule":"hint:model"' "$tmp/b" && ok || bad "ollama hint: $st $(cat $tmp/b)"
st=$(post /api/chat '{"model":"qwen3.f32","messages":[]}')
[ "$st" = 200 ] && grep -q '"done_reason":"load"' "$tmp/b" && ok || bad "ollama load call: $st $(cat $tmp/b)"
st=$(post /v1/chat/completions '{"model":"hearth:cloud:nope","messages":[{"role":"user","content":"hi"}]}')
[ "$st" = 400 ] && grep -q "names no upstream" "$tmp/b" && ok || bad "unknown hint: $st $(cat $tmp/b)"

# the audit log: one line per request, no values, no key
lines=$(wc -l < "$tmp/audit.jsonl")
[ "$lines" -ge 12 ] && ! grep -q "mailbox.org\|AKIA2E0A8F3B244C9986\|536-22\|$CLOUD_KEY" "$tmp/audit.jsonl" && ok || bad "audit: $lines lines"
$H stats --log "$tmp/audit.jsonl" | grep -q "privacy .* 1 redacted, 2 blocked" && ok || bad "stats: $($H stats --log $tmp/audit.jsonl)"

echo "router_serve: $pass passed, $fail failed"
[ $fail = 0 ]
