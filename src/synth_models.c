/* synth_models.c — the table of real model configurations that `hearth synth` reproduces (see synth.h).
 *
 * Every number is the published config.json's (Hugging Face), as the sources below quote them; the GGUF
 * layout (which keys and tensors llama.cpp's converter writes for them) is applied in synth.c. The same
 * table, with sources, is in bench/MODELS.md — keep the two in step. */
#include "synth.h"

#include <string.h>
#include <strings.h>

#include "types.h"

const synth_config synth_configs[] = {
    {
        .name = "tiny", .display = "hearth tiny (synthetic)", .basename = "hearth-tiny", .size_label = "2M",
        .arch = "gemma4",
        /* Gemma 4 E-model features in miniature: sliding + full layers with different head sizes,
         * per-layer inputs, shared KV on the last half with double-wide FFN, proportional RoPE, soft-cap.
         * Layer 3 (the last KV-owning layer) is full and layer 2 sliding, as llama.cpp's KV reuse requires. */
        .n_layer = 8, .n_embd = 128, .n_ff = 256, .n_head = 4, .n_kv_head = 1, .head_dim = 32,
        .head_dim_full = 64, .n_vocab = 512, .n_ctx = 4096,
        .rope_base = 1e6f, .rope_base_swa = 1e4f, .norm_eps = 1e-6f, .final_softcap = 30.0f,
        .rope_partial_full = 0.25f, .sliding_window = 64, .swa_period = 4, .n_shared_kv = 4, .ple_dim = 32,
        .double_wide_ffn = true, .tied = true, .tok = SYNTH_TOK_GEMMA4,
        .source = "hearth's own test model (not a published model)",
    },
    {
        .name = "gemma4-e2b", .display = "Gemma 4 E2B (synthetic)", .basename = "gemma-4", .size_label = "E2B",
        .arch = "gemma4",
        .n_layer = 35, .n_embd = 1536, .n_ff = 6144, .n_head = 8, .n_kv_head = 1, .head_dim = 256,
        .head_dim_full = 512, .n_vocab = 262144, .n_ctx = 131072,
        .rope_base = 1e6f, .rope_base_swa = 1e4f, .norm_eps = 1e-6f, .final_softcap = 30.0f,
        .rope_partial_full = 0.25f, .sliding_window = 512, .swa_period = 5, .n_shared_kv = 20, .ple_dim = 256,
        .double_wide_ffn = true, .tied = true, .tok = SYNTH_TOK_GEMMA4, .ref_tensors = 601,
        .source = "google/gemma-4-E2B config.json (text_config), as quoted in public repositories' tests; "
                  "601 tensors in a llama.cpp log of a converted file",
    },
    {
        .name = "gemma4-e4b", .display = "Gemma 4 E4B (synthetic)", .basename = "gemma-4", .size_label = "E4B",
        .arch = "gemma4",
        .n_layer = 42, .n_embd = 2560, .n_ff = 10240, .n_head = 8, .n_kv_head = 2, .head_dim = 256,
        .head_dim_full = 512, .n_vocab = 262144, .n_ctx = 131072,
        .rope_base = 1e6f, .rope_base_swa = 1e4f, .norm_eps = 1e-6f, .final_softcap = 30.0f,
        .rope_partial_full = 0.25f, .sliding_window = 512, .swa_period = 6, .n_shared_kv = 18, .ple_dim = 256,
        .double_wide_ffn = false, .tied = true, .tok = SYNTH_TOK_GEMMA4, .ref_tensors = 720,
        .source = "google/gemma-4-E4B config.json (text_config), as quoted in public repositories' tests; "
                  "720 tensors in a llama.cpp log of a converted file",
    },
    {
        .name = "gemma4-31b", .display = "Gemma 4 31B (synthetic)", .basename = "gemma-4", .size_label = "31B",
        .arch = "gemma4",
        .n_layer = 60, .n_embd = 5376, .n_ff = 21504, .n_head = 32, .n_kv_head = 16, .head_dim = 256,
        .n_kv_head_full = 4, .head_dim_full = 512, .n_vocab = 262144, .n_ctx = 262144,
        .rope_base = 1e6f, .rope_base_swa = 1e4f, .norm_eps = 1e-6f, .final_softcap = 30.0f,
        .rope_partial_full = 0.25f, .sliding_window = 1024, .swa_period = 6, .k_eq_v = true, .tied = true,
        .tok = SYNTH_TOK_GEMMA4, .ref_tensors = 833,
        .source = "google/gemma-4-31B config.json (text_config), as quoted in public repositories' tests; "
                  "833 tensors in a llama.cpp log of a converted file",
    },
    {
        .name = "gemma3-1b", .display = "Gemma 3 1B (synthetic)", .basename = "gemma-3", .size_label = "1B",
        .arch = "gemma3",
        .n_layer = 26, .n_embd = 1152, .n_ff = 6912, .n_head = 4, .n_kv_head = 1, .head_dim = 256,
        .n_vocab = 262144, .n_ctx = 32768, .rope_base = 1e6f, .rope_base_swa = 1e4f, .norm_eps = 1e-6f,
        .sliding_window = 512, .swa_period = 6, .tied = true, .write_head_dim = true, .tok = SYNTH_TOK_GEMMA3,
        .ref_params = 999885952ull, .ref_tensors = 340,
        .source = "google/gemma-3-1b-it config.json; 999,885,952 parameters (safetensors total)",
    },
    {
        .name = "gemma3-4b", .display = "Gemma 3 4B (synthetic, text)", .basename = "gemma-3", .size_label = "4B",
        .arch = "gemma3",
        .n_layer = 34, .n_embd = 2560, .n_ff = 10240, .n_head = 8, .n_kv_head = 4, .head_dim = 256,
        .n_vocab = 262208, .n_ctx = 131072, .rope_base = 1e6f, .rope_base_swa = 1e4f, .norm_eps = 1e-6f,
        .rope_scaling = SYNTH_ROPE_LINEAR, .rope_factor = 8.0f,
        .sliding_window = 1024, .swa_period = 6, .tied = true, .write_head_dim = true, .tok = SYNTH_TOK_GEMMA3,
        .source = "google/gemma-3-4b-it config.json (text_config; vocabulary 262,208 as in converted files)",
    },
    {
        .name = "llama3.2-1b", .display = "Llama 3.2 1B (synthetic)", .basename = "Llama-3.2", .size_label = "1B",
        .arch = "llama",
        .n_layer = 16, .n_embd = 2048, .n_ff = 8192, .n_head = 32, .n_kv_head = 8, .head_dim = 64,
        .n_vocab = 128256, .n_ctx = 131072, .rope_base = 500000.0f, .norm_eps = 1e-5f,
        .rope_scaling = SYNTH_ROPE_LLAMA3, .rope_factor = 32.0f, .rope_low_freq = 1.0f, .rope_high_freq = 4.0f,
        .rope_orig_ctx = 8192, .tied = true, .write_head_dim = true, .tok = SYNTH_TOK_LLAMA3,
        .ref_params = 1235814400ull, .ref_tensors = 147,
        .source = "meta-llama/Llama-3.2-1B config.json; 1,235,814,400 parameters",
    },
    {
        .name = "llama3.1-8b", .display = "Llama 3.1 8B (synthetic)", .basename = "Llama-3.1", .size_label = "8B",
        .arch = "llama",
        .n_layer = 32, .n_embd = 4096, .n_ff = 14336, .n_head = 32, .n_kv_head = 8, .head_dim = 128,
        .n_vocab = 128256, .n_ctx = 131072, .rope_base = 500000.0f, .norm_eps = 1e-5f,
        .rope_scaling = SYNTH_ROPE_LLAMA3, .rope_factor = 8.0f, .rope_low_freq = 1.0f, .rope_high_freq = 4.0f,
        .rope_orig_ctx = 8192, .tied = false, .tok = SYNTH_TOK_LLAMA3,
        .ref_params = 8030261248ull, .ref_tensors = 292,
        .source = "meta-llama/Llama-3.1-8B-Instruct config.json; 8,030,261,248 parameters",
    },
    {
        .name = "qwen3-4b", .display = "Qwen3 4B (synthetic)", .basename = "Qwen3", .size_label = "4B",
        .arch = "qwen3",
        .n_layer = 36, .n_embd = 2560, .n_ff = 9728, .n_head = 32, .n_kv_head = 8, .head_dim = 128,
        .n_vocab = 151936, .n_ctx = 40960, .rope_base = 1e6f, .norm_eps = 1e-6f, .tied = true,
        .write_head_dim = true, .tok = SYNTH_TOK_QWEN2, .ref_params = 4022468096ull, .ref_tensors = 398,
        .source = "Qwen/Qwen3-4B config.json; 4,022,468,096 parameters",
    },
};
const int synth_n_configs = (int)(sizeof synth_configs / sizeof synth_configs[0]);

const synth_config *synth_find(const char *name) {
    for (int i = 0; i < synth_n_configs; i++)
        if (!strcasecmp(synth_configs[i].name, name)) return &synth_configs[i];
    return NULL;
}

/* File types as llama.cpp numbers them (general.file_type) with the tensor type most tensors get. */
static const synth_ftype ftypes[] = {
    {"F32", 0, T_F32},     {"F16", 1, T_F16},       {"BF16", 32, T_BF16},    {"Q8_0", 7, T_Q8_0},
    {"Q4_0", 2, T_Q4_0},   {"Q4_K_M", 15, T_Q4_K},  {"Q5_K_M", 17, T_Q5_K},  {"Q6_K", 18, T_Q6_K},
    {"Q3_K_M", 12, T_Q3_K},
};
const char *const synth_ftype_names = "F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, Q3_K_M";

const synth_ftype *synth_find_ftype(const char *name) {
    for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (!strcasecmp(ftypes[i].name, name)) return &ftypes[i];
    return NULL;
}
