#!/usr/bin/env python3
"""check_tokenizer.py — hearth's "gemma4" tokenizer must give the ids the demo model was trained on.

usage: check_tokenizer.py TOKENIZER.json TOK_IDS_BINARY [--n N] [--seed S]
Writes a vocabulary-only GGUF of TOKENIZER.json (export_gguf.py, no numpy needed), tokenizes N generated
examples (training and held-out phrasings, chat prompts with control tokens, answers) plus hand-picked edge
cases both ways, and exits 1 listing the first differences. Stdlib only.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpe import BPE  # noqa: E402
import export_gguf  # noqa: E402
import gen_data  # noqa: E402

EDGE = ["", " ", "  leading", "trailing  ", "\n\n\n", "a\tb", "tab\t\tx", "naïve café", "日本語のテキスト",
        "emoji 🎉 here", "\x01\x02 ctl", "mixed\r\nlines", "\u2581literal", "<|turn> not special",
        "<bos><eos>", "{\"a\":[1,2.5,-3e10,null,true]}", "user_name userName UserName user-name USER_NAME",
        "x" * 300, "1234567890" * 5, "\\u00e9 escaped", "ünïcödé ✓ ∑ ∫", "export interface Root {\n  id: number;\n}"]


def hearth_ids(binary, gguf, texts, special):
    data = b"\0".join(t.encode("utf-8") for t in texts)
    r = subprocess.run([binary, gguf] + (["--special"] if special else []), input=data, capture_output=True)
    if r.returncode != 0:
        sys.exit("check_tokenizer: tok_ids failed: " + r.stderr.decode())
    lines = r.stdout.decode().split("\n")[:len(texts)]
    return [[int(x) for x in l.split(",")] if l else [] for l in lines]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tokenizer")
    ap.add_argument("tok_ids")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    tok = BPE.load(a.tokenizer)
    cfg = {"vocab_size": len(tok.tokens), "hidden_size": 8, "intermediate_size": 8, "num_layers": 1, "num_heads": 1,
           "num_kv_heads": 1, "head_dim": 8, "layer_types": ["full"], "sliding_window": 8, "rope_theta": 1e6,
           "rope_theta_swa": 1e4, "partial_rotary_full": 0.25, "final_logit_softcap": 30.0, "rms_eps": 1e-6,
           "max_seq": 64}
    with tempfile.TemporaryDirectory() as d:
        gguf = os.path.join(d, "vocab.gguf")
        export_gguf.export(cfg, tok, None, gguf)
        ex = gen_data.generate(a.n // 2, a.seed, "train") + gen_data.generate(a.n - a.n // 2, a.seed, "eval")
        plain = EDGE + [e["answer"] for e in ex] + [e["user"] for e in ex]
        special = [e["prompt"] for e in ex] + ["<bos><|turn>user\nhi<turn|>\n<|turn>model\n"]
        bad = 0
        for texts, sp in ((plain, False), (special, True)):
            got = hearth_ids(a.tok_ids, gguf, texts, sp)
            for t, g in zip(texts, got):
                want = tok.encode(t, special=sp)
                if g != want:
                    bad += 1
                    if bad <= 5:
                        print(f"MISMATCH special={sp} text={t[:80]!r}\n  python {want[:40]}\n  hearth {g[:40]}")
        total = len(plain) + len(special)
        print(f"check_tokenizer: {total - bad}/{total} texts tokenized identically")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
