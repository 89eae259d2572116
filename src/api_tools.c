/* api_tools.c — the "tools" part of the public API (hearth.h): synthetic models and what `hearth bench`
 * needs to know about a loaded model and the build. Nothing in the inference path calls into this file. */
#include <string.h>

#include "engine.h"
#include "kernels.h"
#include "hearth.h"
#include "synth.h"
#include "types.h"
#include "util.h"

const char *hearth_synth_name(int i, const char **source) {
    if (i < 0 || i >= synth_n_configs) return NULL;
    if (source) *source = synth_configs[i].source;
    return synth_configs[i].name;
}

int hearth_synth(const char *name, const char *out_path, const hearth_synth_params *params, hearth_synth_info *info) {
    hearth_clear_error();
    hearth_synth_params sp = {0};
    if (params) sp = *params;
    const synth_config *c = synth_find(name);
    if (!c) {
        char known[512] = "";
        for (int i = 0; i < synth_n_configs; i++) {
            if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, synth_configs[i].name, sizeof known - strlen(known) - 1);
        }
        return hearth_fail(HEARTH_ERR_ARG, "unknown synthetic model '%s' (known: %s)", name, known);
    }
    const synth_ftype *ft = synth_find_ftype(sp.type ? sp.type : "Q4_K_M");
    if (!ft) return hearth_fail(HEARTH_ERR_ARG, "unknown type '%s' (known: %s)", sp.type, synth_ftype_names);
    if (sp.n_ctx < 0) return hearth_fail(HEARTH_ERR_ARG, "context %d is negative", sp.n_ctx);
    synth_plan plan;
    int rc = synth_plan_make(&plan, c, ft);
    if (rc) return rc;
    if (sp.on_tensor)
        for (int i = 0; i < plan.n; i++) {
            const synth_tensor *t = &plan.t[i];
            const type_traits *tt = type_get(t->type);
            sp.on_tensor(sp.user, t->name, tt->name, t->n_dims, t->ne,
                         type_row_bytes(tt, (uint64_t)t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]));
        }
    synth_write_params wp = {.seed = sp.seed, .n_ctx = sp.n_ctx, .n_threads = sp.n_threads,
                             .exact_quant = sp.exact_quant, .on_progress = sp.on_progress, .ud = sp.user};
    uint64_t file_bytes = 0;
    rc = out_path ? synth_write(&plan, out_path, &wp, &file_bytes) : synth_file_bytes(&plan, &wp, &file_bytes);
    if (rc == 0 && info) {
        *info = (hearth_synth_info){.arch = c->arch, .n_tensors = plan.n, .n_params = plan.n_params,
                                    .n_bytes = plan.n_bytes, .file_bytes = file_bytes, .ref_params = c->ref_params,
                                    .ref_tensors = c->ref_tensors};
    }
    synth_plan_free(&plan);
    return rc;
}

static uint64_t matrix_bytes(const matrix *m) { return m->data ? m->row_bytes * (uint64_t)m->rows : 0; }
static uint64_t row_bytes(const matrix *m) { return m->data ? m->row_bytes : 0; }

uint64_t hearth_model_decode_bytes(const hearth_model *model) {
    const model_desc *m = &model->desc;
    uint64_t n = row_bytes(&m->tok_embd) + row_bytes(&m->ple_embd) + matrix_bytes(&m->ple_model_proj) +
                 matrix_bytes(&m->output);
    for (int il = 0; il < m->n_layer; il++) {
        const layer_desc *l = &m->layers[il];
        const matrix *mats[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down,
                                &l->ple_gate, &l->ple_proj};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) n += matrix_bytes(mats[i]);
    }
    return n;
}

const char *hearth_build_isa(void) {
    /* the kernels chosen at run time (kernels.c: cpuid / AT_HWCAP, or HEARTH_ISA) */
    return kernels_active()->name;
}
