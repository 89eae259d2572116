#include <stddef.h>
#include "kernels.h"
#if defined(__x86_64__)
const kernel_ops *kernels_avx512(void) { return NULL; }
#endif
