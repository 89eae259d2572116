#!/usr/bin/env python3
"""Reference token ids from llama.cpp's llama-tokenize (built separately; not part of hearth) for a test-string
file in the vocab-test format. Used where no Hugging Face port is at hand (SentencePiece vocabularies) and for
special-token handling. Usage:
  python3 scripts/tok_refs_llamacpp.py LLAMA_TOKENIZE VOCAB.gguf IN.inp OUT.out [--parse-special]"""
import subprocess
import sys
import tempfile

SEP = b"\n__ggml_vocab_test__\n"


def main():
    exe, vocab, inp, out = sys.argv[1:5]
    special = "--parse-special" in sys.argv[5:]
    raw = open(inp, "rb").read()
    tests, pos = [], 0
    while pos < len(raw):
        n = raw.find(SEP, pos)
        if n < 0:
            tests.append(raw[pos:])
            break
        tests.append(raw[pos:n])
        pos = n + len(SEP)
    lines = []
    with tempfile.NamedTemporaryFile() as tf:
        for t in tests:
            tf.seek(0)
            tf.truncate()
            tf.write(t)
            tf.flush()
            args = [exe, "-m", vocab, "-f", tf.name, "--ids", "--no-bos", "--no-escape", "--log-disable"]
            if not special:
                args.append("--no-parse-special")
            r = subprocess.run(args, capture_output=True, check=True)
            o = r.stdout.decode().strip()
            assert o.startswith("[") and o.endswith("]"), o
            lines.append(" ".join(x.strip() for x in o[1:-1].split(",") if x.strip()))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(out, len(lines))


if __name__ == "__main__":
    main()
