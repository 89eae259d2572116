/* types.c — block geometry of every GGUF tensor type (from the GGUF specification). */
#include "types.h"

#include <stddef.h>

static const type_traits traits[T_COUNT] = {
    [T_F32] = {"F32", 1, 4, true},         [T_F16] = {"F16", 1, 2, true},
    [T_Q4_0] = {"Q4_0", 32, 18, true},     [T_Q4_1] = {"Q4_1", 32, 20, true},
    [T_Q5_0] = {"Q5_0", 32, 22, true},     [T_Q5_1] = {"Q5_1", 32, 24, true},
    [T_Q8_0] = {"Q8_0", 32, 34, true},     [T_Q8_1] = {"Q8_1", 32, 36, false},
    [T_Q2_K] = {"Q2_K", 256, 84, true},    [T_Q3_K] = {"Q3_K", 256, 110, true},
    [T_Q4_K] = {"Q4_K", 256, 144, true},   [T_Q5_K] = {"Q5_K", 256, 176, true},
    [T_Q6_K] = {"Q6_K", 256, 210, true},   [T_Q8_K] = {"Q8_K", 256, 292, false},
    [T_IQ2_XXS] = {"IQ2_XXS", 256, 66, false}, [T_IQ2_XS] = {"IQ2_XS", 256, 74, false},
    [T_IQ3_XXS] = {"IQ3_XXS", 256, 98, false}, [T_IQ1_S] = {"IQ1_S", 256, 50, false},
    [T_IQ4_NL] = {"IQ4_NL", 32, 18, false},    [T_IQ3_S] = {"IQ3_S", 256, 110, false},
    [T_IQ2_S] = {"IQ2_S", 256, 82, false},     [T_IQ4_XS] = {"IQ4_XS", 256, 136, false},
    [T_I8] = {"I8", 1, 1, false},          [T_I16] = {"I16", 1, 2, false},
    [T_I32] = {"I32", 1, 4, false},        [T_I64] = {"I64", 1, 8, false},
    [T_F64] = {"F64", 1, 8, false},        [T_IQ1_M] = {"IQ1_M", 256, 56, false},
    [T_BF16] = {"BF16", 1, 2, true},       [T_TQ1_0] = {"TQ1_0", 256, 54, false},
    [T_TQ2_0] = {"TQ2_0", 256, 66, false}, [T_MXFP4] = {"MXFP4", 32, 17, false},
    [T_NVFP4] = {"NVFP4", 64, 36, false},  [T_Q1_0] = {"Q1_0", 128, 18, false},
    [T_Q2_0] = {"Q2_0", 64, 18, false},
};

const type_traits *type_get(uint32_t type) {
    if (type >= T_COUNT || traits[type].name == NULL) return NULL;
    return &traits[type];
}
