/* Compile-check stand-in for <arm_acle.h> on the host: the ACLE prototypes (GCC's int8x4_t and
 * int16x2_t are int32_t) the runtime's __ARM_FEATURE_DSP branch uses. Never linked or run. */
#ifndef MCUFORGE_TEST_ACLE_STUB_H
#define MCUFORGE_TEST_ACLE_STUB_H
#include <stdint.h>
int32_t __sxtb16(int32_t a);
int32_t __sadd16(int32_t a, int32_t b);
int32_t __smlad(int32_t a, int32_t b, int32_t acc);
#endif
