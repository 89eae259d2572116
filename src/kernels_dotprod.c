/* kernels_dotprod.c — kernels_neon.c built again with the Armv8.2 dot-product extension (sdot); the Makefile
 * gives this file -march=armv8.2-a+dotprod and kernels.c uses it only where AT_HWCAP has ASIMDDP. */
#define HEARTH_DOTPROD 1
#include "kernels_neon.c"
