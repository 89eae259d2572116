"""model_torch.py — the Gemma 4 text decoder in plain PyTorch, as hearth computes it (src/forward.c,
shared/notes/gemma4-text.md): the subset the demo model uses.

Contract
    m = Gemma4(cfg)             cfg: the dict of config.json (see export_gguf.py for the keys)
    m(ids) -> logits            ids [B, T] int64 -> [B, T, V] float32, causal, soft-capped
    m(ids, positions=mask) -> hidden states of the selected positions only through m.hidden(ids)
    m.state_numpy() -> {name: float32 array}   parameter names as export_gguf.py expects
Per layer (sliding or full attention, as cfg["layer_types"] says):
    x += PostNorm(Attn(Norm(x)));  x += PostNorm(FFN(Norm(x)));  x *= out_scale
    Attn: per-head RMSNorm on q and k (weighted) and v (no weight), NeoX RoPE (sliding: theta_swa, every pair;
    full: theta, only the first partial_rotary_full * head_dim / 2 pairs — Gemma 4's "proportional" RoPE),
    scores q·k unscaled, GQA, sliding layers see the last `sliding_window` positions (the current one included).
    FFN: down(gelu_tanh(gate(h)) * up(h)).
Embeddings are scaled by sqrt(hidden) and tied to the output; logits = c·tanh(logits/c).
Runs on torch 1.13 (CPU, for the local tests) and torch 2.x (scaled_dot_product_attention on the GPU).
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

# DEMO_NO_SDPA=1 forces the plain attention path (device_run.sh falls back to it if SDPA fails)
HAS_SDPA = hasattr(F, "scaled_dot_product_attention") and not os.environ.get("DEMO_NO_SDPA")


class RMSNorm(nn.Module):
    def __init__(self, n, eps, weight=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n)) if weight else None

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight.float()
        return y.type_as(x)


def rope_tables(cfg, T, device, full):
    """cos, sin [T, head_dim/2] for a layer type."""
    hd = cfg["head_dim"]
    half = hd // 2
    base = cfg["rope_theta"] if full else cfg["rope_theta_swa"]
    inv = 1.0 / (base ** (torch.arange(0, half, device=device, dtype=torch.float32) * 2 / hd))
    if full:
        n_rot = int(hd * cfg["partial_rotary_full"] / 2)
        inv[n_rot:] = 0.0
    ang = torch.arange(T, device=device, dtype=torch.float32)[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


def apply_rope(x, cos, sin):
    """x [B, H, T, hd]; NeoX pairing (i, i + hd/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    c, s = cos[None, None], sin[None, None]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).type_as(x)


class Layer(nn.Module):
    def __init__(self, cfg, sliding):
        super().__init__()
        d, f, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
        self.H, self.Hkv, self.hd = cfg["num_heads"], cfg["num_kv_heads"], hd
        self.sliding, self.window = sliding, cfg["sliding_window"]
        eps = cfg["rms_eps"]
        self.attn_norm = RMSNorm(d, eps)
        self.q = nn.Linear(d, self.H * hd, bias=False)
        self.k = nn.Linear(d, self.Hkv * hd, bias=False)
        self.v = nn.Linear(d, self.Hkv * hd, bias=False)
        self.o = nn.Linear(self.H * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, eps)
        self.k_norm = RMSNorm(hd, eps)
        self.v_norm = RMSNorm(hd, eps, weight=False)
        self.post_attn_norm = RMSNorm(d, eps)
        self.ffn_norm = RMSNorm(d, eps)
        self.gate = nn.Linear(d, f, bias=False)
        self.up = nn.Linear(d, f, bias=False)
        self.down = nn.Linear(f, d, bias=False)
        self.post_ffn_norm = RMSNorm(d, eps)
        self.out_scale = nn.Parameter(torch.ones(1))

    def attention(self, h, cos, sin, mask):
        B, T, _ = h.shape
        q = self.q_norm(self.q(h).view(B, T, self.H, self.hd)).transpose(1, 2)
        k = self.k_norm(self.k(h).view(B, T, self.Hkv, self.hd)).transpose(1, 2)
        v = self.v_norm(self.v(h).view(B, T, self.Hkv, self.hd)).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.Hkv != self.H:
            rep = self.H // self.Hkv
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if HAS_SDPA and h.is_cuda:
            # unscaled scores: pre-multiply q by sqrt(hd) to cancel SDPA's default 1/sqrt(hd)
            qs = q * math.sqrt(self.hd)
            if self.sliding:
                o = F.scaled_dot_product_attention(qs, k, v, attn_mask=mask)
            else:
                o = F.scaled_dot_product_attention(qs, k, v, is_causal=True)
        else:
            s = torch.matmul(q.float(), k.float().transpose(-1, -2))
            s = s.masked_fill(~mask, float("-inf"))
            o = torch.matmul(torch.softmax(s, dim=-1), v.float()).type_as(q)
        return self.o(o.transpose(1, 2).reshape(B, T, self.H * self.hd))

    def forward(self, x, rope, masks):
        cos, sin = rope
        x = x + self.post_attn_norm(self.attention(self.attn_norm(x), cos, sin, masks))
        h = self.ffn_norm(x)
        f = self.down(F.gelu(self.gate(h), approximate="tanh") * self.up(h))
        x = x + self.post_ffn_norm(f)
        return x * self.out_scale


class Gemma4(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList(Layer(cfg, t == "sliding") for t in cfg["layer_types"])
        self.final_norm = RMSNorm(cfg["hidden_size"], cfg["rms_eps"])
        self.reset_parameters()

    def reset_parameters(self, std=0.02):
        n = len(self.layers)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                s = std / math.sqrt(2 * n) if name.endswith(("o.weight", "down.weight")) else std
                nn.init.normal_(p, 0.0, s)
            elif name.endswith(("q_norm.weight", "k_norm.weight")):
                # Gemma 4 does not scale q·k; starting these at head_dim^-1/4 makes the first steps see the
                # usual 1/sqrt(head_dim) scale (unit-RMS q and k would give scores of std sqrt(head_dim))
                nn.init.constant_(p, self.cfg["head_dim"] ** -0.25)

    def _masks(self, T, device):
        i = torch.arange(T, device=device)
        causal = i[None, :] <= i[:, None]
        window = causal & (i[:, None] - i[None, :] < self.cfg["sliding_window"])
        return causal, window

    def hidden(self, ids):
        B, T = ids.shape
        x = self.embed(ids) * math.sqrt(self.cfg["hidden_size"])
        causal, window = self._masks(T, ids.device)
        ropes = {True: rope_tables(self.cfg, T, ids.device, True), False: rope_tables(self.cfg, T, ids.device, False)}
        for layer in self.layers:
            x = layer(x, ropes[not layer.sliding], window if layer.sliding else causal)
        return self.final_norm(x)

    def logits(self, h):
        z = torch.matmul(h, self.embed.weight.type_as(h).t()).float()
        c = self.cfg.get("final_logit_softcap")
        return c * torch.tanh(z / c) if c else z

    def forward(self, ids):
        return self.logits(self.hidden(ids))

    def state_numpy(self):
        return {k: v.detach().float().cpu().numpy() for k, v in self.state_dict().items()}
