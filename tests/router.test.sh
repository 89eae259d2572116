#!/usr/bin/env bash
# router.test.sh — `hearth run --route` and `hearth stats` as a user runs them, against the fake
# OpenAI-compatible upstream (tests/router/fake_upstream.py) on 127.0.0.1 only. Prints "router: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
H=./build/hearth
M=tests/fixtures/models/qwen3.f32.gguf
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
tmp=$(mktemp -d)
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
python3 tests/router/fake_upstream.py --port-file "$tmp/port" --log "$tmp/upstream.jsonl" --slow 3 --lifetime 120 &
fake=$!
trap 'kill $fake 2>/dev/null; wait $fake 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
P=$(cat "$tmp/port")
[ -n "$P" ] && ok || { bad "fake upstream did not start"; echo "router: $pass passed, $fail failed"; exit 1; }

KEY=hearth-test-key-7f3a9c
export CLOUD_API_KEY=$KEY
AUDIT="$tmp/audit.jsonl"
# the minimal form of the issue, as written
cat > "$tmp/min.yaml" <<EOF
upstreams:
  - name: cloud
    base_url: http://127.0.0.1:$P/echo/v1   # any OpenAI-compatible endpoint
    model: big-model
    api_key_env: CLOUD_API_KEY
route:
  default: cloud         # where a request goes when no rule matches: local, cloud or auto
  on_sensitive: local    # a request with secrets or personal data: local, redact or block
EOF
run() { $H run "$@" --audit "$AUDIT" >"$tmp/out" 2>"$tmp/err"; echo $? > "$tmp/rc"; }
rc() { cat "$tmp/rc"; }

# cloud: streamed to stdout; the stderr line says where it came from; the key went in the header only
run $M "hello cloud" --route "$tmp/min.yaml" -n 8
[ "$(rc)" = 0 ] && [ "$(cat $tmp/out)" = "ECHO: hello cloud" ] && ok || bad "cloud answer: rc $(rc) '$(cat $tmp/out)' $(cat $tmp/err)"
grep -q "^route cloud:cloud | rule default" "$tmp/err" && ok || bad "route line: $(cat $tmp/err)"
python3 -c "
import json,sys
l=[json.loads(x) for x in open('$tmp/upstream.jsonl')][-1]
assert l['auth'] and l['body']['model']=='big-model' and l['body']['stream'] is True, l
" && ok || bad "upstream request shape"
# no model at hand: a cloud-routed request needs none
(cd "$tmp" && CLOUD_API_KEY=$KEY "$OLDPWD/$H" run "hi there" --route min.yaml --audit off -q) > "$tmp/out2" 2>&1
[ "$(cat $tmp/out2)" = "ECHO: hi there" ] && ok || bad "cloud without a local model: $(cat $tmp/out2)"

# a secret: kept local by default (answered by the local model), never sent
before=$(wc -l < "$tmp/upstream.jsonl")
run $M "why does this fail: postgres://app:Tr0ub4dor3xyz@db.corp.internal/app" --route "$tmp/min.yaml" -n 6 --temp 0
[ "$(rc)" = 0 ] && [ -s "$tmp/out" ] && grep -q "^route local .*kept local: url_password x1" "$tmp/err" && ok || bad "sensitive local: rc $(rc) $(cat $tmp/err)"
[ "$(wc -l < $tmp/upstream.jsonl)" = "$before" ] && ok || bad "sensitive request reached the upstream"

# hints: a marker forces local even though the default is cloud
run $M "hearth:local say hi" --route "$tmp/min.yaml" -n 4 --temp 0
grep -q "^route local | rule hint:marker" "$tmp/err" && ok || bad "marker hint: $(cat $tmp/err)"
run $M "say hi" --route "$tmp/min.yaml" --route-model hearth:local -n 4 --temp 0
grep -q "^route local | rule hint:model" "$tmp/err" && ok || bad "model hint: $(cat $tmp/err)"

# redact and block through rules; auto for the rest
cat > "$tmp/rules.yaml" <<EOF
upstreams:
  - name: echo
    base_url: http://127.0.0.1:$P/echo/v1
    model: big-model
    api_key_env: CLOUD_API_KEY
    price: {input: 2.5, output: 10}
route:
  default: auto
  rules:
    - name: scrub
      when: {keywords: [summarise]}
      to: cloud
      on_sensitive: redact
    - name: strict
      when: {keywords: [payroll]}
      to: echo
      on_sensitive: block
EOF
run $M "summarise: ticket from maria.garcia@mailbox.org, card 4111 1111 1111 1111" --route "$tmp/rules.yaml"
[ "$(cat $tmp/out)" = "ECHO: summarise: ticket from maria.garcia@mailbox.org, card 4111 1111 1111 1111" ] && ok || bad "redact round trip: $(cat $tmp/out)"
tail -1 "$tmp/upstream.jsonl" | grep -q '<EMAIL_1>, card <CARD_1>' && ok || bad "upstream did not get placeholders: $(tail -1 $tmp/upstream.jsonl)"
! grep -q "mailbox.org\|4111 1111" "$tmp/upstream.jsonl" && ok || bad "redacted values reached the upstream"
before=$(wc -l < "$tmp/upstream.jsonl")
run $M "payroll for SSN 536-22-8170" --route "$tmp/rules.yaml"
[ "$(rc)" = 1 ] && grep -q "blocked by the privacy guard: the request contains ssn x1" "$tmp/err" && ok || bad "block: rc $(rc) $(cat $tmp/err)"
[ "$(wc -l < $tmp/upstream.jsonl)" = "$before" ] && ! grep -q 8170 "$tmp/err" && ok || bad "blocked request leaked"
run $M "Design a distributed system architecture for a global bank, with trade-offs" --route "$tmp/rules.yaml"
grep -q "^route cloud:echo | rule default | auto: big task" "$tmp/err" && ok || bad "auto cloud: $(cat $tmp/err)"
run $M "write a regex for ISO dates" --route "$tmp/rules.yaml" -n 4 --temp 0
grep -q "^route local | rule default | auto: chore (regex)" "$tmp/err" && ok || bad "auto local: $(cat $tmp/err)"

# failover: down, erroring, slow, broken mid-stream: every request is answered (locally)
for mode in down err500 slow truncated malformed; do
    port=$P; [ $mode = down ] && port=9
    sed "s#127.0.0.1:$P/echo/v1#127.0.0.1:$port/$mode/v1#" "$tmp/min.yaml" > "$tmp/f.yaml"
    printf '    timeouts: {connect: 1, total: 5, idle: 1}\n' > "$tmp/t"; sed -i "/api_key_env/r $tmp/t" "$tmp/f.yaml"
    start=$(date +%s)
    run $M "say hello" --route "$tmp/f.yaml" -n 6 --temp 0
    took=$(( $(date +%s) - start ))
    [ "$(rc)" = 0 ] && [ -s "$tmp/out" ] && grep -q "^route local .*failover: cloud:cloud" "$tmp/err" && [ $took -le 6 ] && ok ||
        bad "failover $mode: rc $(rc), ${took}s, '$(cat $tmp/out)' $(cat $tmp/err)"
done
# the broken stream was continued, not restarted
grep -q "^Hello from" "$tmp/out" && ok || bad "continued answer: $(cat $tmp/out)"

# bad route files: a clear message with the line, usage exit code
printf 'upstreams:\n  - name: c\n    base_url: http://127.0.0.1:1/v1\n    model: m\n    api_key: sk-live-abc\n' > "$tmp/bad.yaml"
run $M "x" --route "$tmp/bad.yaml"
[ "$(rc)" = 2 ] && grep -q "bad.yaml:5:5: keys never go in the route file" "$tmp/err" && ok || bad "api_key refused: $(cat $tmp/err)"
printf 'route:\n  default: cloud\n  on_sensitive: sometimes\n' > "$tmp/bad2.yaml"
run $M "x" --route "$tmp/bad2.yaml"
[ "$(rc)" = 2 ] && grep -q "bad2.yaml:3:17: route.on_sensitive must be local, redact or block, got 'sometimes'" "$tmp/err" && ok || bad "bad action: $(cat $tmp/err)"
run $M "x" --route "$tmp/nonexistent.yaml"
[ "$(rc)" = 2 ] && grep -q "nonexistent.yaml: No such file" "$tmp/err" && ok || bad "missing file: $(cat $tmp/err)"
run $M --prompt-ids 1,2 --route "$tmp/min.yaml"
[ "$(rc)" = 2 ] && ok || bad "--route with --prompt-ids"

# the key never appears in the audit log, and no prompt text does
! grep -q "$KEY" "$AUDIT" && ! grep -q "mailbox.org\|Tr0ub4dor3xyz\|536-22" "$AUDIT" && ok || bad "audit log leaks"

# stats
$H stats --log "$AUDIT" --route "$tmp/rules.yaml" > "$tmp/stats" 2>&1 && ok || bad "stats: $(cat $tmp/stats)"
grep -q "requests .* answered locally" "$tmp/stats" && grep -q "saved .*upstream echo's price" "$tmp/stats" && ok || bad "stats text: $(cat $tmp/stats)"
$H stats --log "$AUDIT" --prices 2.5,10 --json > "$tmp/stats.json" && python3 - "$tmp/stats.json" "$AUDIT" <<'PY' && ok || bad "stats json: $(cat $tmp/stats.json)"
import json, sys
s = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2])]
assert s["requests"] == len(lines), (s, len(lines))
local = [l for l in lines if l["route"] == "local"]
assert s["local"] == len(local) and s["blocked"] == 1 and s["failovers"] >= 5 and s["redacted"] == 1, s
want = (sum(l["prompt_tokens"] for l in local) * 2.5 + sum(l["completion_tokens"] for l in local) * 10) / 1e6
assert abs(s["saved_usd"] - want) < 1e-9, (s["saved_usd"], want)
PY
$H stats --log "$tmp/none.jsonl" >/dev/null 2>&1; [ $? = 1 ] && ok || bad "stats on a missing log"
$H stats --prices abc --log "$AUDIT" >/dev/null 2>&1; [ $? = 2 ] && ok || bad "stats --prices abc"
$H stats --help | grep -q "saved" && ok || bad "stats --help"
$H run --help | grep -q -- "--route FILE" && ok || bad "run --help mentions --route"

echo "router: $pass passed, $fail failed"
[ $fail = 0 ]
