#!/usr/bin/env bash
# cli.test.sh — drives the hearth binary as a user would: pipes for run, a pseudo-terminal for chat,
# and the documented exit codes for bad input. Prints "cli: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
H=./build/hearth
M=tests/fixtures/models/qwen3.f32.gguf
G=tests/fixtures/models/gemma4-full.f32.gguf
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
expect_rc() { # expected-rc description command...
    local want=$1 what=$2; shift 2
    "$@" >/tmp/hearth_cli_out 2>/tmp/hearth_cli_err; local rc=$?
    if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, wanted $want ($(head -c 300 /tmp/hearth_cli_err))"; fi
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# help and usage
expect_rc 0 "help" $H --help
grep -q "exit codes" /tmp/hearth_cli_out && ok || bad "--help lists exit codes"
for c in run chat logits info tokenize; do expect_rc 0 "$c --help" $H $c --help; done
expect_rc 2 "unknown command" $H frobnicate
expect_rc 2 "unknown option" $H run $M --frobnicate

# the id path (stable for outside checks): greedy ids equal the reference's
ids=$(sed -n 's/^prompt //p' tests/fixtures/models/qwen3.meta); want=$(sed -n 's/^greedy //p' tests/fixtures/models/qwen3.meta)
got=$($H run $M --prompt-ids "$ids" -n 32 --temp 0 --print-ids 2>/dev/null)
[ "$got" = "$want" ] && ok || bad "run --print-ids: $got"

# text through a pipe: prompt words + stdin; the stats line on stderr; --quiet silences it
echo '{"a": 1}' | $H run $M "describe this" -n 8 --seed 3 >"$tmp/out1" 2>"$tmp/err1"; rc=$?
[ $rc = 0 ] && ok || bad "run with stdin: exit $rc"
grep -q "prompt .* tok.*generated .* tok.*first token" "$tmp/err1" && ok || bad "stats line: $(cat $tmp/err1)"
echo '{"a": 1}' | $H run $M "describe this" -n 8 --seed 3 --quiet >"$tmp/out2" 2>"$tmp/err2"
[ ! -s "$tmp/err2" ] && ok || bad "--quiet printed: $(cat $tmp/err2)"
cmp -s "$tmp/out1" "$tmp/out2" && ok || bad "same seed + same input gave different output"
# output is valid UTF-8 even from a random model that emits byte tokens
$H run $G "x" -n 64 --seed 1 --temp 1.5 -q > "$tmp/u8"; python3 -c "open('$tmp/u8','rb').read().decode('utf-8')" 2>/dev/null && ok || bad "output is not valid UTF-8"
# stop strings end the output before the stop text
$H run $M --raw "hello" -n 40 --temp 0 -q > "$tmp/full"
stop=$(python3 -c "import sys; t=open('$tmp/full',encoding='utf-8',errors='replace').read().strip(); print(t[3:6] if len(t) > 6 else '')")
if [ -n "$stop" ]; then
    $H run $M --raw "hello" -n 40 --temp 0 -q --stop "$stop" > "$tmp/stopped"
    python3 -c "import sys; s=open('$tmp/stopped',encoding='utf-8',errors='replace').read(); sys.exit(0 if '$stop' not in s else 1)" && ok || bad "stop string leaked"
fi

# bad input: clear error, documented exit code, never a crash
expect_rc 3 "missing model" $H run /nonexistent/model.gguf "hi"
head -c 1000 $M > "$tmp/trunc.gguf"
expect_rc 3 "truncated model" $H run "$tmp/trunc.gguf" "hi"
grep -q "truncated\|past end\|extends\|impossible" /tmp/hearth_cli_err && ok || bad "truncated message: $(cat /tmp/hearth_cli_err)"
[ "$(wc -l < /tmp/hearth_cli_err)" = 1 ] && ok || bad "error is one line"
python3 - "$M" "$tmp/arch.gguf" <<'PY'
import sys; b=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(b.replace(b'qwen3', b'mamba', 1))
PY
expect_rc 3 "unknown architecture" $H info "$tmp/arch.gguf"
grep -q "unsupported architecture 'mamba' (supported:" /tmp/hearth_cli_err && ok || bad "arch message: $(cat /tmp/hearth_cli_err)"
long=$(python3 -c "print(' '.join(['word'] * 400))")
expect_rc 4 "prompt longer than the context" $H run $M "$long" --ctx 64 -n 4
grep -q "context" /tmp/hearth_cli_err && ok || bad "context message: $(cat /tmp/hearth_cli_err)"
expect_rc 2 "bad ids" $H run $M --prompt-ids 1,x,3 -n 2
expect_rc 2 "id outside vocabulary" $H run $M --prompt-ids 1,999999 -n 2

# tokenize: ids, count, pieces
echo "Hello world" > "$tmp/t.txt"
[ "$($H tokenize ../shared/data/vocab/ggml-vocab-llama-bpe.gguf --count < $tmp/t.txt)" = 4 ] && ok || bad "tokenize --count"

# model names from the model directory
mkdir -p "$tmp/models"; cp $M "$tmp/models/tiny-qwen.gguf"
HEARTH_MODELS="$tmp/models" $H info tiny-qwen >/dev/null 2>&1 && ok || bad "model by name from HEARTH_MODELS"
# ollama's store: manifest -> blob
mkdir -p "$tmp/ollama/manifests/registry.ollama.ai/library/tiny" "$tmp/ollama/blobs"
digest=$(sha256sum $M | cut -d' ' -f1); cp $M "$tmp/ollama/blobs/sha256-$digest"
printf '{"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s","size":1}]}' "$digest" \
    > "$tmp/ollama/manifests/registry.ollama.ai/library/tiny/latest"
OLLAMA_MODELS="$tmp/ollama" $H info tiny:latest >/dev/null 2>&1 && ok || bad "model by name from ollama's store"
# Hugging Face cache
mkdir -p "$tmp/hf/hub/models--acme--tiny-qwen-GGUF/snapshots/abc123"; cp $M "$tmp/hf/hub/models--acme--tiny-qwen-GGUF/snapshots/abc123/tiny-qwen.Q8_0.gguf"
HF_HOME="$tmp/hf" $H info acme/tiny-qwen-GGUF >/dev/null 2>&1 && ok || bad "model by name from the Hugging Face cache"

# chat in a pseudo-terminal: two turns (the second reuses the first's KV cache), /save, /clear, /exit
python3 - "$H" "$M" "$tmp" <<'PY' && ok || bad "chat session"
import os, pty, sys, time, select, json
h, m, tmp = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(h, [h, "chat", m, "-n", "6", "--temp", "0"])
out = b""
def wait_for(pat, timeout=30, count=1):
    global out
    end = time.time() + timeout
    while time.time() < end:
        if out.count(pat) >= count: return True
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: break
    return out.count(pat) >= count
def send(line): os.write(fd, line.encode() + b"\r")
assert wait_for(b">>> "), out
send("hello there"); assert wait_for(b"reused"), out
send("and again"); assert wait_for(b"reused", 30, 2) and wait_for(b">>> ", 30, 3), out
stats = [l for l in out.decode(errors="replace").splitlines() if "reused" in l]
assert len(stats) >= 2 and "(0 reused)" not in stats[-1], stats
send(f"/save {tmp}/conv.json"); assert wait_for(b"saved"), out
msgs = json.load(open(f"{tmp}/conv.json"))
assert [x["role"] for x in msgs] == ["user", "assistant", "user", "assistant"], msgs
send("/clear"); assert wait_for(b"cleared"), out
send("/exit")
_, status = os.waitpid(pid, 0)
assert os.WEXITSTATUS(status) == 0, status
PY

echo "cli: $pass passed, $fail failed"
[ $fail = 0 ]
