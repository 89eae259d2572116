#include <stddef.h>
#include "kernels.h"
#if defined(__aarch64__)
const kernel_ops *kernels_neon(void) { return NULL; }
const kernel_ops *kernels_dotprod(void) { return NULL; }
#endif
