/* placeholder until the CLI lands */
#include <stdio.h>
#include "hearth.h"
int main(void) { printf("hearth %s\n", HEARTH_VERSION); return 0; }
