#!/usr/bin/env python3
"""train.py — train the demo model (model_torch.py, Gemma 4) on gen_data.py's chat data, on a time budget.

usage: train.py --config C --tokenizer T --out DIR [--seconds S] [--examples N] [--seed S] [--workers W]
                [--device cuda|cpu] [--batch-tokens N] [--lr LR] [--shards DIR] [--max-steps N]
Contract
  * Data: N training examples (gen_data.example with split "train", seeded per example) are generated and
    tokenized by W processes; generation stops early at --data-seconds and says so (the first k chunks of
    the same deterministic stream are used). Sequences: prompt ids (chat template, control tokens parsed)
    + answer ids + <turn|>; the loss covers the answer and <turn|> only. Longer than --max-len: dropped.
  * Training runs until --seconds of wall time have passed (or --max-steps): AdamW, bf16 autocast on CUDA,
    learning rate warmup then cosine decay by elapsed time, batches of similar lengths up to
    --batch-tokens (padded) tokens, gradient clipping at 1.
  * Logs to stdout: data, then every --log-every steps step/time/lr/loss/tokens per second, held-out loss
    (split "eval" examples) every --eval-every seconds, and the final held-out loss.
  * --init continues from earlier weights (a second run on the GPU machine; the optimizer starts afresh).
  * Writes DIR/model.npz (float32 parameters, the names export_gguf.py reads) and DIR/config.json at the end;
    with --shards, float16 copies split into files under 15 MB (weights-NN.npz) there too, also every
    --save-every seconds during training, so an interrupted run still leaves its latest weights.
"""
import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_data  # noqa: E402
from bpe import BPE, PAD, TURN_CLOSE  # noqa: E402

_TOK = None


def _tok_init(path):
    global _TOK
    _TOK = BPE.load(path)


def encode_example(tok, e):
    p = tok.encode(e["prompt"], special=True)
    a = tok.encode(e["answer"]) + [TURN_CLOSE]
    return p, a


def _make_chunk(args):
    seed, start, n, split, max_len = args
    ids, lens, plens = [], [], []
    for i in range(start, start + n):
        rng = random.Random(f"{seed}:{split}:{i}")
        p, a = encode_example(_TOK, gen_data.example(rng, split))
        if len(p) + len(a) > max_len:
            continue
        ids.extend(p + a)
        lens.append(len(p) + len(a))
        plens.append(len(p))
    return np.array(ids, dtype=np.int16), np.array(lens, dtype=np.int32), np.array(plens, dtype=np.int32)


def make_data(tok_path, n, seed, split, workers, max_len, deadline, chunk=4000):
    jobs = [(seed, s, min(chunk, n - s), split, max_len) for s in range(0, n, chunk)]
    parts = []
    if workers <= 1:
        _tok_init(tok_path)
        for j in jobs:
            parts.append(_make_chunk(j))
            if time.time() > deadline:
                break
    else:
        with mp.get_context("fork").Pool(workers, initializer=_tok_init, initargs=(tok_path,)) as pool:
            for r in pool.imap(_make_chunk, jobs):
                parts.append(r)
                if time.time() > deadline:
                    pool.terminate()
                    break
    ids = np.concatenate([p[0] for p in parts])
    lens = np.concatenate([p[1] for p in parts])
    plens = np.concatenate([p[2] for p in parts])
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return ids, lens, plens, offs, len(parts) < len(jobs)


def batches(lens, batch_tokens, rng, pad_to=64):
    """Index lists of similar-length sequences whose padded size stays under batch_tokens."""
    order = rng.permutation(len(lens))
    out = []
    group = 256 * 64
    for g in range(0, len(order), group):
        idx = order[g:g + group]
        idx = idx[np.argsort(lens[idx], kind="stable")]
        cur, cur_max = [], 0
        for i in idx:
            L = int(math.ceil(lens[i] / pad_to) * pad_to)
            if cur and max(cur_max, L) * (len(cur) + 1) > batch_tokens:
                out.append(cur)
                cur, cur_max = [], 0
            cur.append(int(i))
            cur_max = max(cur_max, L)
        if cur:
            out.append(cur)
    rng.shuffle(out)
    return out


def collate(torch, data, idx, device, pad_to=64):
    ids, lens, plens, offs = data
    T = int(math.ceil(max(lens[i] for i in idx) / pad_to) * pad_to)
    x = np.full((len(idx), T), PAD, dtype=np.int64)
    y = np.full((len(idx), T), -100, dtype=np.int64)
    for r, i in enumerate(idx):
        s = ids[offs[i]:offs[i] + lens[i]].astype(np.int64)
        x[r, :lens[i]] = s
        # predict token t+1 at position t, only for answer tokens
        y[r, plens[i] - 1:lens[i] - 1] = s[plens[i]:]
    return torch.from_numpy(x).to(device, non_blocking=True), torch.from_numpy(y).to(device, non_blocking=True)


def save_weights(model, out_dir, shards_dir=None, limit=15_000_000):
    sd = model.state_numpy()
    os.makedirs(out_dir, exist_ok=True)
    np.savez(os.path.join(out_dir, "model.npz"), **sd)
    if shards_dir:
        os.makedirs(shards_dir, exist_ok=True)
        for f in os.listdir(shards_dir):
            if f.startswith("weights-") and f.endswith(".npz"):
                os.remove(os.path.join(shards_dir, f))
        cur, size, k = {}, 0, 0
        for name, v in sd.items():
            h = v.astype(np.float16)
            if cur and size + h.nbytes > limit:
                np.savez(os.path.join(shards_dir, f"weights-{k:02d}.npz"), **cur)
                cur, size, k = {}, 0, k + 1
            cur[name] = h
            size += h.nbytes
        np.savez(os.path.join(shards_dir, f"weights-{k:02d}.npz"), **cur)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shards")
    ap.add_argument("--init", help="start from these weights (model.npz, or a directory of weights-NN.npz shards)")
    ap.add_argument("--seconds", type=float, default=330)
    ap.add_argument("--data-seconds", type=float, default=90)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--examples", type=int, default=800_000)
    ap.add_argument("--eval-examples", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch-tokens", type=int, default=65536)
    ap.add_argument("--max-len", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup-frac", type=float, default=0.04)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=float, default=60)
    ap.add_argument("--save-every", type=float, default=100)
    a = ap.parse_args()
    t0 = time.time()
    cfg = json.load(open(a.config))

    # ---- data (before CUDA starts: the workers fork)
    train = make_data(a.tokenizer, a.examples, a.seed, "train", a.workers, a.max_len, t0 + a.data_seconds)
    ids, lens, plens, offs, cut = train
    held = make_data(a.tokenizer, a.eval_examples, a.seed + 1, "eval", 1, a.max_len, float("inf"), chunk=a.eval_examples)
    n_ans = int((lens - plens).sum())
    print(f"data: {len(lens)} train sequences{' (cut by --data-seconds)' if cut else ''}, {int(lens.sum())} tokens "
          f"({n_ans} answer), mean {lens.mean():.0f}, max {lens.max()}; {len(held[1])} held-out; "
          f"{time.time() - t0:.1f}s", flush=True)

    import torch
    from model_torch import Gemma4
    torch.manual_seed(a.seed)
    dev = torch.device(a.device if (a.device != "cuda" or torch.cuda.is_available()) else "cpu")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model = Gemma4(cfg)
    if a.init:
        files = [a.init] if not os.path.isdir(a.init) else sorted(
            os.path.join(a.init, f) for f in os.listdir(a.init) if f.startswith("weights-") and f.endswith(".npz"))
        sd = {}
        for f in files:
            sd.update({k: torch.from_numpy(v.astype(np.float32)) for k, v in np.load(f).items()})
        model.load_state_dict(sd)
        print(f"init: weights from {a.init} ({len(files)} files)", flush=True)
    model = model.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters, {cfg['num_layers']} layers, d={cfg['hidden_size']}, "
          f"vocab {cfg['vocab_size']}, device {dev} (torch {torch.__version__})", flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kw = {"fused": True} if dev.type == "cuda" else {}
    try:
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8, **kw)
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    amp = dev.type == "cuda"
    data = (ids, lens, plens, offs)
    held_data = held[:4]
    rng = np.random.default_rng(a.seed)

    def loss_of(x, y):
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with ctx:
            h = model.hidden(x)
            sel = y != -100
            logits = model.logits(h[sel])
            return torch.nn.functional.cross_entropy(logits.float(), y[sel])

    def held_loss():
        model.eval()
        tot, n = 0.0, 0
        with torch.no_grad():
            for idx in batches(held_data[1], a.batch_tokens // 2, np.random.default_rng(0)):
                x, y = collate(torch, held_data, idx, dev)
                k = int((y != -100).sum())
                tot += float(loss_of(x, y)) * k
                n += k
        model.train()
        return tot / max(n, 1)

    t_train = time.time()
    budget = a.seconds
    step, epoch, seen_tok = 0, 0, 0
    last_eval = last_save = t_train
    done = False
    log_loss, log_n, t_log = 0.0, 0, time.time()
    while not done:
        epoch += 1
        for idx in batches(lens, a.batch_tokens, rng):
            frac = (time.time() - t_train) / budget
            if frac >= 1 or (a.max_steps and step >= a.max_steps):
                done = True
                break
            if frac < a.warmup_frac:
                lr = a.lr * max(frac / a.warmup_frac, 0.01)
            else:
                p = (frac - a.warmup_frac) / (1 - a.warmup_frac)
                lr = a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = collate(torch, data, idx, dev)
            loss = loss_of(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            seen_tok += x.numel()
            log_loss = log_loss + loss.detach()
            log_n += 1
            if step % a.log_every == 0 or step == 1:
                dt = time.time() - t_log
                print(f"step {step} epoch {epoch} t={time.time() - t_train:.0f}s lr={lr:.2e} loss={float(log_loss) / log_n:.4f} "
                      f"tok/s={seen_tok / max(time.time() - t_train, 1e-9):.0f} ({dt:.1f}s/{a.log_every} steps)", flush=True)
                log_loss, log_n, t_log = 0.0, 0, time.time()
            now = time.time()
            if now - last_eval > a.eval_every:
                print(f"held-out loss {held_loss():.4f} at step {step}", flush=True)
                last_eval = time.time()
            if a.shards and now - last_save > a.save_every:
                save_weights(model, a.out, a.shards)
                last_save = time.time()
    final = held_loss()
    print(f"done: {step} steps, {epoch} epochs started, {time.time() - t_train:.0f}s training, "
          f"held-out loss {final:.4f}, total {time.time() - t0:.0f}s", flush=True)
    model.eval()
    save_weights(model, a.out, a.shards)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if a.shards:
        with open(os.path.join(a.shards, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main()
