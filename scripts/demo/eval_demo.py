#!/usr/bin/env python3
"""eval_demo.py — score the demo model on held-out cases, through the hearth binary.

usage: eval_demo.py --model M.gguf [--hearth build/hearth] [--mode text|ids] [--ts N] [--py N] [--log N]
                    [--seed S] [--jobs J] [--threads T] [--no-tsc] [--oracle] [--json OUT.json] [--show K]
Cases: gen_data.make_case with split "eval" — phrasings and key names training never used — as a user runs
them: the request as the argument, the payload (minified, one-line, 2/4-space or tab pretty, half-pretty)
piped in, ending with a newline.
  --mode text   `hearth run M "REQUEST" --temp 0 -n 1024 < payload` (hearth applies the chat template)
  --mode ids    the same prompt rendered and tokenized here (gen_data.render_prompt, bpe.py), through
                `hearth run M --prompt-ids ... --temp 0 --print-ids`, output decoded here
  --oracle      score the reference answers instead of the model (checks this harness and the data)
Scores: exact match with the reference answer for every chore; for TypeScript also "tsc": the output,
followed by `const __payload: Root = <payload>;`, passes `tsc --strict --noEmit` (npm typescript, installed
under scripts/demo/node_modules by `npm ci`/`npm install` there). Prints a summary table (markdown) and
exits 0; --json writes every case with its output.
"""
import argparse
import concurrent.futures as cf
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gen_data  # noqa: E402
from bpe import BPE, TURN_CLOSE, EOS  # noqa: E402


def cases(seed, counts):
    out = []
    for task in ("ts", "py", "log"):
        for i in range(counts[task]):
            rng = random.Random(f"eval-case:{seed}:{task}:{i}")
            req, text, answer, value = gen_data.make_case(rng, task, "eval")
            out.append({"id": f"{task}-{i:03d}", "task": task, "request": req, "payload": text + "\n",
                        "answer": answer, "value": value})
    return out


def run_case(c, a, tok):
    t0 = time.time()
    if a.mode == "text":
        cmd = [a.hearth, "run", a.model, c["request"], "--temp", "0", "-n", str(a.max_tokens),
               "--threads", str(a.threads)]
        r = subprocess.run(cmd, input=c["payload"].encode(), capture_output=True)
        out = r.stdout.decode("utf-8", errors="replace")
        n_gen = None
    else:
        user = f"{c['request']}\n\n{c['payload']}"
        ids = tok.encode(gen_data.render_prompt(user), special=True)
        cmd = [a.hearth, "run", a.model, "--prompt-ids", ",".join(map(str, ids)), "--temp", "0", "-n",
               str(a.max_tokens), "--print-ids", "--threads", str(a.threads)]
        r = subprocess.run(cmd, capture_output=True)
        gen = [int(x) for x in r.stdout.decode().strip().split(",") if x.strip()]
        n_gen = len(gen)
        while gen and gen[-1] in (TURN_CLOSE, EOS):
            gen.pop()
        out = tok.decode(gen)
    if r.returncode != 0:
        out = ""
        c["error"] = r.stderr.decode(errors="replace")[-500:]
    c["output"] = out
    c["seconds"] = time.time() - t0
    c["n_generated"] = n_gen
    return c


def tsc_check(ts_cases, tsc):
    """Sets c["tsc"] for each case: its file (output + the payload assignment) compiles with --strict."""
    with tempfile.TemporaryDirectory() as d:
        files = []
        for c in ts_cases:
            p = os.path.join(d, c["id"] + ".ts")
            body = c["output"].rstrip() + "\n\nconst __payload: Root = " + json.dumps(c["value"], ensure_ascii=False) + ";\n"
            body += "export { __payload };\n"
            with open(p, "w", encoding="utf-8") as f:
                f.write(body)
            files.append(p)
        r = subprocess.run([tsc, "--strict", "--noEmit", "--skipLibCheck", "--target", "es2020", "--module", "esnext",
                            "--pretty", "false"] + files, capture_output=True, text=True, cwd=d)
        bad = {}
        for line in (r.stdout + r.stderr).splitlines():
            m = re.match(r"^(?:.*/)?([\w-]+)\.ts\(\d+,\d+\): error (TS\d+: .*)", line)
            if m:
                bad.setdefault(m.group(1), m.group(2))
        if r.returncode != 0 and not bad:
            raise RuntimeError("tsc failed without per-file errors:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        for c in ts_cases:
            c["tsc"] = c["id"] not in bad
            if not c["tsc"]:
                c["tsc_error"] = bad[c["id"]]


def find_tsc():
    p = os.path.join(HERE, "node_modules", ".bin", "tsc")
    if os.path.exists(p):
        return p
    sys.exit(f"eval_demo: no tsc; run `npm ci` (or `npm install`) in {HERE}, or pass --no-tsc")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "default.gguf"))
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "hearth"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "tokenizer.json"))
    ap.add_argument("--mode", choices=["text", "ids"], default="ids")
    ap.add_argument("--ts", type=int, default=150)
    ap.add_argument("--py", type=int, default=50)
    ap.add_argument("--log", type=int, default=50)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--no-tsc", action="store_true")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--show", type=int, default=2, help="print this many failing cases per task")
    ap.add_argument("--readme", help="write the summary table between <!-- eval:begin/end --> in this file")
    a = ap.parse_args()
    cs = cases(a.seed, {"ts": a.ts, "py": a.py, "log": a.log})
    tok = BPE.load(a.tokenizer)
    t0 = time.time()
    if a.oracle:
        for c in cs:
            c["output"] = c["answer"]
    else:
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            list(ex.map(lambda c: run_case(c, a, tok), cs))
    wall = time.time() - t0
    ts_cases = [c for c in cs if c["task"] == "ts"]
    if ts_cases and not a.no_tsc:
        tsc_check(ts_cases, find_tsc())
    for c in cs:
        c["exact"] = c["output"].strip() == c["answer"].strip()
    names = {"ts": "JSON → TypeScript interfaces", "py": "JSON → Python dataclasses", "log": "log line → JSON"}
    print(f"\nmodel {a.model} ({'oracle' if a.oracle else a.mode} mode), seed {a.seed}, {len(cs)} cases, {wall:.0f}s")
    table = ["| chore | cases | tsc --strict accepts the payload | exact match |", "|---|---|---|---|"]
    summary = {}
    for task in ("ts", "py", "log"):
        tc = [c for c in cs if c["task"] == task]
        if not tc:
            continue
        ex = sum(c["exact"] for c in tc) / len(tc)
        ok = sum(c.get("tsc", False) for c in tc) / len(tc) if task == "ts" and not a.no_tsc else None
        summary[task] = {"cases": len(tc), "exact": ex, "tsc": ok}
        table.append(f"| {names[task]} | {len(tc)} | {'—' if ok is None else f'{100 * ok:.1f} %'} | {100 * ex:.1f} % |")
    print("\n" + "\n".join(table))
    gens = [c for c in cs if c.get("n_generated")]
    if gens:
        print(f"\n{sum(c['n_generated'] for c in gens)} tokens generated in {sum(c['seconds'] for c in gens):.0f}s "
              f"of hearth runs (prompt processing included)")
    for task in ("ts", "py", "log"):
        bad = [c for c in cs if c["task"] == task and not (c.get("tsc") if task == "ts" and not a.no_tsc else c["exact"])]
        for c in bad[:a.show]:
            print(f"\n--- failing {c['id']}: {c['request']!r}" + (f" [{c.get('tsc_error')}]" if c.get("tsc_error") else ""))
            print(c["output"][:1500] or "(no output) " + c.get("error", ""))
    if a.readme and not a.oracle:
        import hashlib
        digest = hashlib.sha256(open(a.model, "rb").read()).hexdigest()[:12]
        block = (f"{len(cs)} held-out cases (seed {a.seed}), `{os.path.basename(a.model)}` (sha256 {digest}…), "
                 f"`hearth run` in {a.mode} mode, greedy:\n\n" + "\n".join(table))
        text = open(a.readme, encoding="utf-8").read()
        b, e = "<!-- eval:begin -->", "<!-- eval:end -->"
        if b in text and e in text:
            text = text[:text.index(b) + len(b)] + "\n" + block + "\n" + text[text.index(e):]
            open(a.readme, "w", encoding="utf-8").write(text)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"summary": summary, "cases": cs}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
