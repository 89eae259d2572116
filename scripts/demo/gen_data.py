#!/usr/bin/env python3
"""gen_data.py — the demo model's synthetic chat data: requests in users' own words, answers correct by
construction. Stdlib only; the same seed gives the same data on any machine.

Tasks (share of the data)
    ts   JSON payload -> TypeScript interfaces (typegen.to_typescript)         ~64%
    py   JSON payload -> Python dataclasses (typegen.to_dataclasses)           ~18%
    log  a log line   -> its fields as JSON (2-space indent)                   ~18%
Each example is one user turn — the request, a blank line, then the payload, as `hearth run "request" <
payload.json` builds it (sometimes payload first, fenced, or after a colon) — and the model's answer.
Requests vary in wording, casing and punctuation; payloads are minified, one-line, pretty with 2 or 4
spaces or tabs, or half-pretty. split="eval" uses phrasings and key names that "train" never uses.

Chat format (CHAT_TEMPLATE, stored in the GGUF; render_prompt() is the same thing in Python):
    <bos><|turn>user\\n{content | trim}<turn|>\\n<|turn>model\\n{answer}<turn|>
usage: gen_data.py --split train|eval --n N --seed S [--out FILE.jsonl] [--workers W]
    writes one JSON object per line: {"task", "user", "prompt", "answer"} (prompt = rendered chat prefix).
"""
import argparse
import json
import multiprocessing as mp
import random
import sys

import payloads
import typegen

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "<|turn>{{ role }}\n{{ message['content'] | trim }}<turn|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|turn>model\n{% endif %}"
)
BOS, TURN_OPEN, TURN_CLOSE = "<bos>", "<|turn>", "<turn|>"


def render_prompt(user_content):
    """The template's output for one user message with add_generation_prompt (Python's strip == jinja trim)."""
    return f"{BOS}{TURN_OPEN}user\n{user_content.strip()}{TURN_CLOSE}\n{TURN_OPEN}model\n"


# ------------------------------------------------------------------------------------------- phrasings
VERBS = ["Write", "Generate", "Create", "Give me", "Make", "Produce", "I need", "Can you write", "Please write",
         "Could you generate", "Infer", "Build", "Emit", "Output", "Show me", "Draft", "Define", "Please give me",
         "I'd like", "Need", "Quickly write", "Gen"]
TAILS = ["for this JSON", "for this payload", "for the following JSON", "for this API response",
         "that describe this data", "from this JSON", "matching this object", "for this", "for the JSON below",
         "for this response body", "", "for the data below", "for this json blob", "based on this sample",
         "for the payload", "for this object", "for this example response", "from the sample below"]
ENDS = [".", "", "", ":", "!", " please.", "?", " please", ", thanks."]

TS_OBJS = ["TypeScript interfaces", "TypeScript types", "TS interfaces", "TS types", "typescript interfaces",
           "type definitions in TypeScript", "a TypeScript interface", "TS typings", "interfaces in TS",
           "typescript types", "TypeScript type definitions", "ts interfaces", "TypeScript typings",
           "the TypeScript interfaces", "strict TypeScript types", "TS type declarations"]
TS_WHOLE = ["json to ts", "JSON -> TypeScript", "ts types", "TypeScript please", "to typescript",
            "typescript interfaces for this", "What are the TypeScript types for this?",
            "I need TS types for this response.", "Type this JSON in TypeScript.", "interfaces (typescript)"]
TS_EVAL = ["What would the TS interface for this look like?", "type this response for my frontend (typescript)",
           "convert to typescript types", "ts interfaces pls", "Model this JSON as TypeScript.",
           "I want strongly typed TypeScript definitions for the data below",
           "Turn this payload into TypeScript interface declarations",
           "Describe the shape of this object with TypeScript", "typescript types for this api payload, thanks",
           "Help me type this in TypeScript", "Declare TypeScript interfaces that this JSON satisfies",
           "can u make ts types outta this", "TYPESCRIPT INTERFACES FOR THIS PAYLOAD",
           "Our API returns this. What TypeScript interfaces should the client use?",
           "Generate the TS model for this webhook body"]

PY_OBJS = ["Python dataclasses", "dataclasses", "python dataclasses", "a Python dataclass", "dataclass definitions",
           "Python data classes", "py dataclasses", "typed Python dataclasses", "the dataclasses"]
PY_WHOLE = ["json to python dataclasses", "dataclasses please", "Python dataclasses for this.",
            "to python dataclasses", "I need dataclasses for this JSON."]
PY_EVAL = ["What would this look like as python dataclasses?", "model this json with @dataclass",
           "py dataclasses for this, please", "convert to python dataclass types",
           "I need typed python classes (dataclasses) for this payload",
           "Help me declare dataclasses in Python for this response"]

LOG_WHOLE = ["Parse this log line into JSON", "Extract the fields of this log line as JSON",
             "Turn this log entry into a JSON object", "Convert the log line to JSON",
             "Give me the fields of this log as json", "log line to json", "Structure this log line as JSON",
             "parse log", "Parse this log entry", "Break this log line into JSON fields", "log to json",
             "Extract fields from this log", "What fields are in this log line? JSON please",
             "Can you parse this log line to JSON?", "Please convert this log record into JSON",
             "json for this log line", "Parse the log below into a JSON object"]
LOG_EVAL = ["what are the fields in this log? answer in json", "split this log record into json fields",
            "json-ify this log line", "Parse the following log message and output JSON",
            "Turn the line below into structured JSON", "LOG LINE -> JSON"]


def _compose(rng, objs, whole):
    if rng.random() < 0.2:
        return rng.choice(whole)
    verb, obj, tail = rng.choice(VERBS), rng.choice(objs), rng.choice(TAILS)
    s = f"{verb} {obj}" + (f" {tail}" if tail else "")
    return s + rng.choice(ENDS)


def _vary_case(rng, s):
    r = rng.random()
    if r < 0.18:
        return s.lower()
    if r < 0.21:
        return s.upper()
    if r < 0.3:
        return s[:1].lower() + s[1:]
    return s


def request(rng, task, split):
    if split == "eval":
        pool = {"ts": TS_EVAL, "py": PY_EVAL, "log": LOG_EVAL}[task]
        return rng.choice(pool)
    if task == "ts":
        s = _compose(rng, TS_OBJS, TS_WHOLE)
    elif task == "py":
        s = _compose(rng, PY_OBJS, PY_WHOLE)
    else:
        s = rng.choice(LOG_WHOLE) + rng.choice(ENDS)
    return _vary_case(rng, s)


# -------------------------------------------------------------------------------------- payload text
def _half_pretty(v, indent):
    """Top level one key per line, nested values inline (how people often paste JSON)."""
    pad = " " * indent
    if isinstance(v, dict):
        inner = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {json.dumps(x, ensure_ascii=False)}" for k, x in v.items()]
    else:
        inner = [pad + json.dumps(x, ensure_ascii=False) for x in v]
    o, c = ("{", "}") if isinstance(v, dict) else ("[", "]")
    return o + "\n" + ",\n".join(inner) + "\n" + c


def format_json(rng, v):
    r = rng.random()
    if r < 0.18:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    if r < 0.3:
        return json.dumps(v, ensure_ascii=False)
    if r < 0.62:
        return json.dumps(v, ensure_ascii=False, indent=2)
    if r < 0.84:
        return json.dumps(v, ensure_ascii=False, indent=4)
    if r < 0.88:
        return json.dumps(v, ensure_ascii=False, indent="\t")
    return _half_pretty(v, rng.choice([2, 4]))


def user_turn(rng, req, payload_text, lang):
    """The user's message: mostly `hearth run` shape (request, blank line, payload)."""
    r = rng.random()
    trail = "\n" if rng.random() < 0.5 else ""        # piped files end with a newline (the template trims)
    if r < 0.78:
        return f"{req}\n\n{payload_text}{trail}"
    if r < 0.88:
        return f"{payload_text}\n\n{req}"
    if r < 0.94:
        return f"{req}\n\n```{lang}\n{payload_text}\n```"
    return f"{req}\n{payload_text}"


# ------------------------------------------------------------------------------------------- examples
MAX_CHARS = 3000      # user turn + answer; longer examples are redrawn


def make_case(rng, task, split):
    """(request, payload_text, answer, payload_value) for one task; the value is None for logs."""
    for _ in range(50):
        if task == "log":
            line, fields = payloads.gen_log(rng, split)
            return request(rng, task, split), line, json.dumps(fields, ensure_ascii=False, indent=2), None
        v = payloads.gen_payload(rng, split)
        if task == "py" and not typegen.py_compatible(v):
            continue
        answer = typegen.to_typescript(v) if task == "ts" else typegen.to_dataclasses(v)
        text = format_json(rng, v)
        if len(text) + len(answer) <= MAX_CHARS:
            return request(rng, task, split), text, answer.rstrip("\n"), v
    raise RuntimeError("no case fits MAX_CHARS")


def example(rng, split, task=None):
    r = rng.random()
    if task is None:
        task = "ts" if r < 0.64 else "py" if r < 0.82 else "log"
    for _ in range(50):
        if task == "log":
            line, fields = payloads.gen_log(rng, split)
            payload_text = line
            answer = json.dumps(fields, ensure_ascii=False, indent=2) + "\n"
            lang = ""
        else:
            v = payloads.gen_payload(rng, split)
            if task == "py" and not typegen.py_compatible(v):
                continue
            payload_text = format_json(rng, v)
            answer = typegen.to_typescript(v) if task == "ts" else typegen.to_dataclasses(v)
            lang = "json"
        user = user_turn(rng, request(rng, task, split), payload_text, lang)
        if len(user) + len(answer) <= MAX_CHARS:
            break
    answer = answer.rstrip("\n")
    return {"task": task, "user": user, "prompt": render_prompt(user), "answer": answer}


def _chunk(args):
    seed, start, n, split = args
    out = []
    for i in range(start, start + n):
        rng = random.Random(f"{seed}:{split}:{i}")      # each example has its own stream: order-independent
        out.append(example(rng, split))
    return out


def generate(n, seed, split, workers=1):
    if workers <= 1 or n < 2000:
        return _chunk((seed, 0, n, split))
    step = (n + workers * 4 - 1) // (workers * 4)
    jobs = [(seed, s, min(step, n - s), split) for s in range(0, n, step)]
    with mp.Pool(workers) as pool:
        parts = pool.map(_chunk, jobs)
    return [e for p in parts for e in p]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="train", choices=["train", "eval"])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    data = generate(a.n, a.seed, a.split, a.workers)
    f = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    for e in data:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")
    if f is not sys.stdout:
        f.close()


if __name__ == "__main__":
    main()
