#!/usr/bin/env python3
"""bpe.py — the demo model's tokenizer: Gemma-4-style BPE (merges over characters, U+2581 for spaces,
<0xXX> byte fallback), trained and applied here in plain Python; hearth's "gemma4" tokenizer reads the same
vocabulary and merges from the GGUF and must produce the same ids (tests/demo_tokenizer.test.sh checks).

Contract
    tok = BPE.load("tokenizer.json");  tok.encode(text, special=False) -> [ids];  tok.decode(ids) -> str
    BPE.train(texts, vocab_size) -> BPE       deterministic for the same texts
    tok.save(path)                            {"tokens": [...], "types": [...], "merges": ["a b", ...]}
Vocabulary: 0 <pad>, 1 <eos>, 2 <bos>, 3 <unk>, 4 <|turn>, 5 <turn|> (control; <unk> unknown), the 256 byte
tokens <0x00>..<0xFF>, then single characters (every printable ASCII character, U+2581, newline, tab, and
any other character seen at least MIN_CHAR times), then one token per merge.

Why encoding may cut text into chunks: hearth (like Hugging Face's BPE with no pre-tokenizer) merges over the
whole text. Training here never merges across a "boundary" between two adjacent characters a, b, where
boundary(a, b) depends on those two characters only. A merge learned inside chunks therefore never applies
across a boundary in any text either, so BPE over the whole text equals BPE chunk by chunk — and chunks
repeat, so encode() caches them. The rule: runs of letters (and '_'), runs of digits, and runs of everything
else (spaces, newlines, punctuation: `;\n  `, `": "`) are chunks, so a key is the same tokens in the payload
and in the answer.
"""
import argparse
import collections
import heapq
import json
import sys

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<|turn>", "<turn|>"]
PAD, EOS, BOS, UNK, TURN_OPEN, TURN_CLOSE = range(6)
T_NORMAL, T_UNKNOWN, T_CONTROL, T_BYTE = 1, 2, 3, 6
SPACE = "\u2581"
MIN_CHAR = 8


def _cls(c):
    if c == SPACE:
        return "S"
    if c == "\n":
        return "N"
    if c.isalpha() or c == "_":
        return "L"
    if c.isdigit():
        return "D"
    return "P"


# adjacent character classes that may be merged: letter runs, digit runs, and runs of "glue" (spaces,
# newlines, punctuation) — so a key or a word is the same tokens wherever it appears
_GLUE = ("S", "N", "P")
_JOIN = {("L", "L"), ("D", "D")} | {(a, b) for a in _GLUE for b in _GLUE}


def chunks(s):
    """Split escaped text (spaces already U+2581) at boundaries."""
    if not s:
        return []
    out, start = [], 0
    prev = _cls(s[0])
    for i in range(1, len(s)):
        c = _cls(s[i])
        if (prev, c) not in _JOIN:
            out.append(s[start:i])
            start = i
        prev = c
    out.append(s[start:])
    return out


class BPE:
    def __init__(self, tokens, types, merges):
        self.tokens, self.types, self.merges = tokens, types, merges
        self.id = {t: i for i, t in enumerate(tokens) if types[i] == T_NORMAL}
        self.special = {t: i for i, t in enumerate(tokens) if types[i] in (T_CONTROL, T_UNKNOWN)}
        self.rank = {}
        for r, m in enumerate(merges):
            a, b = m.split(" ")
            self.rank.setdefault((a, b), r)
        self.byte_id = {int(t[3:5], 16): i for i, t in enumerate(tokens) if types[i] == T_BYTE}
        self.cache = {}

    # ------------------------------------------------------------------------------------- encoding
    def _bpe_chunk(self, chunk):
        syms = []
        for ch in chunk:
            i = self.id.get(ch)
            if i is not None:
                syms.append(ch)
            else:
                syms.extend(("\0byte", b) for b in ch.encode("utf-8"))
        # merge the lowest-ranked adjacent pair, leftmost first, until none applies
        while len(syms) > 1:
            best, pos = None, -1
            for j in range(len(syms) - 1):
                a, b = syms[j], syms[j + 1]
                if isinstance(a, tuple) or isinstance(b, tuple):
                    continue
                r = self.rank.get((a, b))
                if r is not None and (best is None or r < best):
                    best, pos = r, j
            if best is None:
                break
            syms[pos:pos + 2] = [syms[pos] + syms[pos + 1]]
        return [self.byte_id[s[1]] if isinstance(s, tuple) else self.id[s] for s in syms]

    def encode_plain(self, text):
        s = text.replace(" ", SPACE)
        out = []
        for c in chunks(s):
            ids = self.cache.get(c)
            if ids is None:
                ids = self._bpe_chunk(c)
                if len(self.cache) < 500000:
                    self.cache[c] = ids
            out.extend(ids)
        return out

    def encode(self, text, special=False):
        """special=True: the texts of control tokens become those tokens (template output only)."""
        if not special:
            return self.encode_plain(text)
        out, i, start = [], 0, 0
        names = sorted(self.special, key=len, reverse=True)
        while i < len(text):
            if text[i] == "<":
                hit = next((n for n in names if text.startswith(n, i)), None)
                if hit:
                    out.extend(self.encode_plain(text[start:i]))
                    out.append(self.special[hit])
                    i += len(hit)
                    start = i
                    continue
            i += 1
        out.extend(self.encode_plain(text[start:]))
        return out

    def decode(self, ids, special=False):
        bs = bytearray()
        for i in ids:
            t, ty = self.tokens[i], self.types[i]
            if ty == T_BYTE:
                bs.append(int(t[3:5], 16))
            elif ty == T_NORMAL:
                bs += t.replace(SPACE, " ").encode("utf-8")
            elif special:
                bs += t.encode("utf-8")
        return bs.decode("utf-8", errors="replace")

    # ----------------------------------------------------------------------------------------- files
    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"tokens": self.tokens, "types": self.types, "merges": self.merges}, f, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return cls(d["tokens"], d["types"], d["merges"])

    # -------------------------------------------------------------------------------------- training
    @classmethod
    def train(cls, texts, vocab_size, log=None):
        counts = collections.Counter()
        chars = collections.Counter()
        for t in texts:
            s = t.replace(" ", SPACE)
            chars.update(s)
            counts.update(chunks(s))
        tokens = list(SPECIALS) + ["<0x%02X>" % b for b in range(256)]
        types = [T_CONTROL] * len(SPECIALS) + [T_BYTE] * 256
        types[UNK] = T_UNKNOWN
        base = set(chr(c) for c in range(33, 127)) | {SPACE, "\n", "\t"}
        base |= {c for c, n in chars.items() if n >= MIN_CHAR and c.isprintable()}
        for c in sorted(base):
            tokens.append(c)
            types.append(T_NORMAL)
        known = set(tokens)
        # words: symbol lists with counts; pair statistics with the words they occur in
        words = [[ch if ch in base else None for ch in w] for w in counts]
        freq = list(counts.values())
        pairs = collections.Counter()
        where = collections.defaultdict(set)
        for wi, w in enumerate(words):
            for a, b in zip(w, w[1:]):
                if a is not None and b is not None:
                    pairs[(a, b)] += freq[wi]
                    where[(a, b)].add(wi)
        heap = [(-n, p) for p, n in pairs.items()]
        heapq.heapify(heap)
        merges = []
        while len(tokens) < vocab_size and heap:
            negn, p = heapq.heappop(heap)
            if pairs.get(p, 0) != -negn or -negn <= 0:
                if pairs.get(p, 0) > 0:
                    heapq.heappush(heap, (-pairs[p], p))
                continue
            if -negn < 2:
                break
            a, b = p
            new = a + b
            merges.append(f"{a} {b}")
            if new not in known:
                known.add(new)
                tokens.append(new)
                types.append(T_NORMAL)
            changed = set()
            for wi in list(where[p]):
                w, f = words[wi], freq[wi]
                i = 0
                nw = []
                while i < len(w):
                    if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                        nw.append(new)
                        i += 2
                    else:
                        nw.append(w[i])
                        i += 1
                if nw == w:
                    continue
                for x, y in zip(w, w[1:]):
                    if x is not None and y is not None:
                        pairs[(x, y)] -= f
                        changed.add((x, y))
                for x, y in zip(nw, nw[1:]):
                    if x is not None and y is not None:
                        pairs[(x, y)] += f
                        where[(x, y)].add(wi)
                        changed.add((x, y))
                words[wi] = nw
            del pairs[p]
            where.pop(p, None)
            for q in changed:
                if q != p and pairs.get(q, 0) > 0:
                    heapq.heappush(heap, (-pairs[q], q))
            if log and len(merges) % 500 == 0:
                log(f"bpe: {len(merges)} merges, vocab {len(tokens)}")
        return cls(tokens, types, merges)


def main():
    ap = argparse.ArgumentParser(description="train the demo tokenizer on gen_data.py output")
    ap.add_argument("data", help="JSONL from gen_data.py")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    texts = []
    with open(a.data, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            texts.append(e["user"])
            texts.append(e["answer"])
    tok = BPE.train(texts, a.vocab, log=lambda m: print(m, file=sys.stderr))
    tok.save(a.out)
    print(f"bpe: {len(tok.tokens)} tokens, {len(tok.merges)} merges -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
