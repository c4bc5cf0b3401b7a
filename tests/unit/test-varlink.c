/* placeholder */
#include <stdio.h>
int main(void) { puts("1..1\nnot ok 1 - placeholder"); return 1; }
