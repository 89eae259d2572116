#!/usr/bin/env python3
"""export_gguf.py — write the demo model as a Gemma 4 GGUF (F32) that hearth and llama.cpp load.

Contract
    export_gguf.py --config config.json --tokenizer tokenizer.json --weights W --out model.f32.gguf
        W: an .npz of float arrays named as model_torch.py names its parameters (see LAYER_TENSORS below),
           a directory of train.py's float16 shards (weights-NN.npz), "random" for a seeded random model of
           that config (tests and speed checks; numpy only), or "none" for a vocabulary-only file.
    export(cfg, tok, weights, path) does the same from Python.
config.json keys (model_torch.py's GemmaConfig): vocab_size, hidden_size, intermediate_size, num_layers,
    num_heads, num_kv_heads, head_dim, layer_types ("sliding" | "full" per layer), sliding_window,
    rope_theta, rope_theta_swa, partial_rotary_full, final_logit_softcap, rms_eps, max_seq.
Layout written (what src/model.c reads, as llama.cpp's converter writes Gemma 4): gemma4.* hyperparameters,
    per-layer sliding_window_pattern (bool array), token_embd (tied output), blk.N.{attn_norm, attn_q,
    attn_k, attn_v, attn_output, attn_q_norm, attn_k_norm, post_attention_norm, ffn_norm, ffn_gate, ffn_up,
    ffn_down, post_ffw_norm, layer_output_scale}, output_norm, rope_freqs (full layers' proportional RoPE:
    1.0 for rotated pairs, 1e30 for the rest), tokenizer.ggml.* (model "gemma4") and the chat template.
Norm weights are stored as used (Gemma 4 has no "1 + w"); nn.Linear weights [out, in] are matrices of
`out` rows of `in` columns (GGUF ne = [in, out]).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe import BPE, BOS, EOS, PAD, UNK  # noqa: E402
from gen_data import CHAT_TEMPLATE  # noqa: E402
from gguf_write import GGUFWriter  # noqa: E402

# GGUF tensor name <- our parameter name (per layer: "layers.{i}." prefix)
LAYER_TENSORS = [
    ("attn_norm.weight", "attn_norm.weight"), ("attn_q.weight", "q.weight"), ("attn_k.weight", "k.weight"),
    ("attn_v.weight", "v.weight"), ("attn_output.weight", "o.weight"), ("attn_q_norm.weight", "q_norm.weight"),
    ("attn_k_norm.weight", "k_norm.weight"), ("post_attention_norm.weight", "post_attn_norm.weight"),
    ("ffn_norm.weight", "ffn_norm.weight"), ("ffn_gate.weight", "gate.weight"), ("ffn_up.weight", "up.weight"),
    ("ffn_down.weight", "down.weight"), ("post_ffw_norm.weight", "post_ffn_norm.weight"),
    ("layer_output_scale.weight", "out_scale"),
]


def n_rot_full(cfg):
    """Rotated pairs of a full layer's head ("proportional" RoPE with partial_rotary_full)."""
    return int(cfg["head_dim"] * cfg["partial_rotary_full"] / 2)


def random_weights(cfg, seed=0):
    """A random model of this config, initialised roughly as training starts (for tests and speed)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    d, f, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    q, kv = cfg["num_heads"] * hd, cfg["num_kv_heads"] * hd
    w = {"embed.weight": rng.normal(0, 0.02, (cfg["vocab_size"], d)), "final_norm.weight": 1 + 0.1 * rng.normal(size=d)}
    for i in range(cfg["num_layers"]):
        p = f"layers.{i}."
        for name, shape in [("q.weight", (q, d)), ("k.weight", (kv, d)), ("v.weight", (kv, d)), ("o.weight", (d, q)),
                            ("gate.weight", (f, d)), ("up.weight", (f, d)), ("down.weight", (d, f))]:
            w[p + name] = rng.normal(0, 1 / np.sqrt(shape[1]), shape)
        for name, n in [("attn_norm.weight", d), ("post_attn_norm.weight", d), ("ffn_norm.weight", d),
                        ("post_ffn_norm.weight", d), ("q_norm.weight", hd), ("k_norm.weight", hd)]:
            w[p + name] = 1 + 0.1 * rng.normal(size=n)
        w[p + "out_scale"] = np.array([1.0])
    return {k: np.asarray(v, dtype=np.float32) for k, v in w.items()}


def export(cfg, tok, weights, path, name="hearth-demo"):
    """weights None: a vocabulary-only file (metadata, no tensors; needs no numpy)."""
    L = cfg["num_layers"]
    wr = GGUFWriter()
    a = "gemma4"
    wr.add("general.architecture", a)
    wr.add("general.name", name)
    wr.add("general.file_type", 0, "u32")                   # all F32
    wr.add(f"{a}.context_length", int(cfg["max_seq"]), "u32")
    wr.add(f"{a}.embedding_length", int(cfg["hidden_size"]), "u32")
    wr.add(f"{a}.block_count", L, "u32")
    wr.add(f"{a}.feed_forward_length", int(cfg["intermediate_size"]), "u32")
    wr.add(f"{a}.attention.head_count", int(cfg["num_heads"]), "u32")
    wr.add(f"{a}.attention.head_count_kv", int(cfg["num_kv_heads"]), "u32")
    wr.add(f"{a}.attention.key_length", int(cfg["head_dim"]), "u32")
    wr.add(f"{a}.attention.value_length", int(cfg["head_dim"]), "u32")
    wr.add(f"{a}.attention.key_length_swa", int(cfg["head_dim"]), "u32")
    wr.add(f"{a}.attention.value_length_swa", int(cfg["head_dim"]), "u32")
    wr.add(f"{a}.rope.dimension_count", int(cfg["head_dim"]), "u32")
    wr.add(f"{a}.rope.dimension_count_swa", int(cfg["head_dim"]), "u32")
    wr.add(f"{a}.rope.freq_base", float(cfg["rope_theta"]), "f32")
    wr.add(f"{a}.rope.freq_base_swa", float(cfg["rope_theta_swa"]), "f32")
    wr.add(f"{a}.attention.sliding_window", int(cfg["sliding_window"]), "u32")
    wr.add(f"{a}.attention.sliding_window_pattern", [t == "sliding" for t in cfg["layer_types"]], "bool")
    wr.add(f"{a}.attention.shared_kv_layers", 0, "u32")
    wr.add(f"{a}.embedding_length_per_layer_input", 0, "u32")
    wr.add(f"{a}.attention.layer_norm_rms_epsilon", float(cfg["rms_eps"]), "f32")
    if cfg.get("final_logit_softcap"):
        wr.add(f"{a}.final_logit_softcapping", float(cfg["final_logit_softcap"]), "f32")
    # tokenizer
    wr.add("tokenizer.ggml.model", "gemma4")
    wr.add("tokenizer.ggml.tokens", tok.tokens, "str")
    wr.add("tokenizer.ggml.scores", [0.0] * len(tok.tokens), "f32")
    wr.add("tokenizer.ggml.token_type", tok.types, "i32")
    wr.add("tokenizer.ggml.merges", tok.merges, "str")
    wr.add("tokenizer.ggml.bos_token_id", BOS, "u32")
    wr.add("tokenizer.ggml.eos_token_id", EOS, "u32")
    wr.add("tokenizer.ggml.unknown_token_id", UNK, "u32")
    wr.add("tokenizer.ggml.padding_token_id", PAD, "u32")
    wr.add("tokenizer.ggml.add_bos_token", False)           # the chat template writes <bos> itself
    wr.add("tokenizer.ggml.add_space_prefix", False)
    wr.add("tokenizer.chat_template", CHAT_TEMPLATE)

    if weights is None:
        wr.write(path)
        return
    import numpy as np

    def t(name, key):
        arr = np.asarray(weights[key], dtype=np.float32)
        wr.add_tensor(name, arr)

    assert weights["embed.weight"].shape == (cfg["vocab_size"], cfg["hidden_size"])
    t("token_embd.weight", "embed.weight")
    nr = n_rot_full(cfg)
    wr.add_tensor("rope_freqs.weight", np.array([1.0] * nr + [1e30] * (cfg["head_dim"] // 2 - nr), dtype=np.float32))
    for i in range(L):
        for gname, pname in LAYER_TENSORS:
            t(f"blk.{i}.{gname}", f"layers.{i}.{pname}")
    t("output_norm.weight", "final_norm.weight")
    wr.write(path)


def main():
    ap = argparse.ArgumentParser(description="export the demo model to GGUF (F32)")
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--weights", required=True, help=".npz of parameters, 'random', or 'none' (vocabulary only)")
    ap.add_argument("--seed", type=int, default=0, help="for --weights random")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    tok = BPE.load(a.tokenizer)
    if cfg["vocab_size"] != len(tok.tokens):
        sys.exit(f"export: config vocab_size {cfg['vocab_size']} != tokenizer's {len(tok.tokens)}")
    if a.weights == "none":
        w = None
    elif a.weights == "random":
        w = random_weights(cfg, a.seed)
    else:
        import numpy as np
        files = [a.weights]
        if os.path.isdir(a.weights):
            files = sorted(os.path.join(a.weights, f) for f in os.listdir(a.weights)
                           if f.startswith("weights-") and f.endswith(".npz"))
            if not files:
                sys.exit(f"export: no weights-NN.npz in {a.weights}")
        w = {}
        for f in files:
            w.update({k: v.astype(np.float32) for k, v in np.load(f).items()})
    export(cfg, tok, w, a.out)
    print(f"export: {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
