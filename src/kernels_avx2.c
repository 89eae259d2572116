#include <stddef.h>
#include "kernels.h"
#if defined(__x86_64__)
const kernel_ops *kernels_avx2(void) { return NULL; }
#endif
