/* Reads lines "x multiplier shift" from stdin and prints, per line,
 * "srdhm(x, multiplier) rdbp(x, e) mbqm(x, multiplier, shift) nudged below" with e = (-shift) clamped
 * to [0, 31], nudged = mf_rounding_divide_by_pot_nudged(x, e) and below = mf_srdhm_below_2p20(x,
 * multiplier) where their preconditions hold, else "-".
 * Lets Python check the fixed-point helpers against an independent big-integer model. */
#include <stdio.h>
#include "mcuforge/fixedpoint.h"

int main(void)
{
    long x, m, shift;
    while (scanf("%ld %ld %ld", &x, &m, &shift) == 3) {
        int e = shift < 0 ? (int)-shift : 0;
        if (e > 31)
            e = 31;
        printf("%ld %ld %ld ", (long)mf_sat_rounding_doubling_high_mul((int32_t)x, (int32_t)m),
               (long)mf_rounding_divide_by_pot((int32_t)x, e),
               (long)mf_multiply_by_quantized_multiplier((int32_t)x, (int32_t)m, (int)shift));
        if (e >= 1 && x + (1L << (e - 1)) <= INT32_MAX)
            printf("%ld ", (long)mf_rounding_divide_by_pot_nudged((int32_t)x, e));
        else
            printf("- ");
        if (x > -(1L << 20) && x < (1L << 20) && m >= 0)
            printf("%ld\n", (long)mf_srdhm_below_2p20((int32_t)x, (int32_t)m));
        else
            printf("-\n");
    }
    return 0;
}
