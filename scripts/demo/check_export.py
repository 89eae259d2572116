#!/usr/bin/env python3
"""check_export.py — the exported GGUF computes what the PyTorch model computes.

usage: check_export.py --config C --tokenizer T --hearth BIN [--weights W.npz | --gguf EXISTING] [--len N]
Without --weights: a seeded random model whose norm weights and layer scales are moved away from 1 (so a
wrong norm convention shows). Exports it with export_gguf.py (unless --gguf names an export of the same
weights), runs `hearth logits` on a token sequence longer than the sliding window when --len allows, and
compares with model_torch.py in float32 on the CPU. Exits 1 unless the relative error is small and the
argmax agrees everywhere. Needs torch (1.13 or later) and numpy.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_gguf  # noqa: E402
from bpe import BPE  # noqa: E402
from model_torch import Gemma4  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--weights")
    ap.add_argument("--gguf")
    ap.add_argument("--len", type=int, default=96)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    tok = BPE.load(a.tokenizer)
    torch.manual_seed(a.seed)
    m = Gemma4(cfg).float().eval()
    if a.weights:
        sd = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in np.load(a.weights).items()}
        m.load_state_dict(sd)
    else:
        with torch.no_grad():
            for name, p in m.named_parameters():
                if p.dim() == 1:
                    p.copy_(1 + 0.3 * torch.randn_like(p)) if p.numel() > 1 else p.fill_(0.9)
                else:
                    p.normal_(0, 0.08)
    g = torch.Generator().manual_seed(a.seed)
    ids = [2] + torch.randint(6, cfg["vocab_size"], (a.len - 1,), generator=g).tolist()
    with torch.no_grad():
        ref = m(torch.tensor([ids]))[0].numpy()
    with tempfile.TemporaryDirectory() as d:
        path = a.gguf
        if not path:
            path = os.path.join(d, "m.gguf")
            export_gguf.export(cfg, tok, m.state_numpy(), path)
        out = os.path.join(d, "logits.f32")
        r = subprocess.run([a.hearth, "logits", path, "--prompt-ids", ",".join(map(str, ids)), "--out", out,
                            "--threads", str(a.threads)], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("check_export: hearth logits failed: " + r.stderr)
        got = np.fromfile(out, dtype="<f4").reshape(len(ids), cfg["vocab_size"])
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    agree = int((got.argmax(-1) == ref.argmax(-1)).sum())
    print(f"check_export: {len(ids)} positions, max rel err {rel:.2e}, argmax agrees {agree}/{len(ids)}")
    sys.exit(0 if rel < 2e-3 and agree == len(ids) else 1)


if __name__ == "__main__":
    main()
