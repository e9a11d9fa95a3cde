/* Reads lines "x b0 b1 b2 round shift" (one channel's mcuforge.codegen.conv_fast.armv6m_requant_table
 * words) from stdin and prints mf_mbqm_table(x, q) per line: lets Python check the ARMv6-M output
 * stage against an independent big-integer model of MultiplyByQuantizedMultiplier. */
#include <stdio.h>
#include "mcuforge/fixedpoint.h"

int main(void)
{
    long x, q[5];
    while (scanf("%ld %ld %ld %ld %ld %ld", &x, &q[0], &q[1], &q[2], &q[3], &q[4]) == 6) {
        const int32_t words[5] = {(int32_t)q[0], (int32_t)q[1], (int32_t)q[2], (int32_t)q[3], (int32_t)q[4]};
        printf("%ld\n", (long)mf_mbqm_table((int32_t)x, words));
    }
    return 0;
}
