#!/usr/bin/env bash
# demo_data.test.sh — the demo model's training data is right by construction:
#   * every TypeScript answer, followed by `const __payload: Root = <payload>;`, passes `tsc --strict`
#     (npm typescript, installed under scripts/demo/node_modules from its package-lock.json), for
#     held-out cases and for a sample of training examples;
#   * every dataclass answer is valid Python that defines Root; every log answer is the JSON of the fields;
#   * generation is deterministic for a seed.
set -euo pipefail
cd "$(dirname "$0")/.."
D=scripts/demo
if [ ! -x $D/node_modules/.bin/tsc ]; then
    (cd $D && npm ci --no-audit --no-fund --silent) || { echo "demo_data: npm ci failed (typescript)"; exit 1; }
fi
python3 $D/eval_demo.py --oracle --ts 200 --py 60 --log 60 --seed 11 --show 3 | tee /tmp/demo_oracle.$$ >/dev/null
grep -q "| JSON → TypeScript interfaces | 200 | 100.0 % | 100.0 % |" /tmp/demo_oracle.$$ ||
    { cat /tmp/demo_oracle.$$; rm -f /tmp/demo_oracle.$$; echo "demo_data: reference TS answers fail tsc"; exit 1; }
rm -f /tmp/demo_oracle.$$
python3 - <<'PY'
import json, os, random, re, subprocess, sys, tempfile
sys.path.insert(0, "scripts/demo")
import gen_data, eval_demo
a = gen_data.generate(300, 3, "train")
b = gen_data.generate(300, 3, "train")
assert a == b, "generation is not deterministic"
ts = []
for i, e in enumerate(a):
    assert e["prompt"] == gen_data.render_prompt(e["user"])
    if e["task"] == "py":
        ns = {}
        exec(compile(e["answer"], f"py{i}", "exec"), ns)
        assert "Root" in ns, e["answer"]
    elif e["task"] == "log":
        json.loads(e["answer"])
    else:
        # recover the payload from the user turn: the JSON text is the part that parses
        user = e["user"]
        m = re.search(r"```json\n(.*)\n```", user, re.S)
        cands = [m.group(1)] if m else [p for p in user.split("\n\n")] + [user.split("\n", 1)[-1]]
        v = None
        for c in cands:
            try:
                v = json.loads(c)
                break
            except ValueError:
                pass
        assert v is not None, user
        ts.append({"id": f"train-{i:03d}", "task": "ts", "output": e["answer"], "value": v})
eval_demo.tsc_check(ts, eval_demo.find_tsc())
bad = [c for c in ts if not c["tsc"]]
assert not bad, bad[:2]
print(f"demo_data: {len(a)} training examples valid ({len(ts)} TypeScript answers accepted by tsc --strict)")
PY
echo "demo_data: ok"
