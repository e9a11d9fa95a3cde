/* Host-only: the CMSIS-DSP calls of the spectral block that need an instance or are header
 * inlines, as plain functions mcuforge.dsp.cmsis_host can call with ctypes (the other functions,
 * e.g. arm_mean_f32, are called directly). Compiled into mcuforge.dsp.host_dsp's library with the
 * device's float semantics; firmware/features/src/spectral.c makes the same CMSIS calls.
 */
#include <stdlib.h>

#include "arm_math.h"

/* arm_biquad_cascade_df2T_init_f32 with a zeroed state, then arm_biquad_cascade_df2T_f32.
 * coeffs: n_stages x [b0, b1, b2, -a1, -a2]. Returns 0, or -2 (out of memory). */
int mf_biquad_df2T_f32(uint32_t n_stages, const float32_t *coeffs, const float32_t *x,
                       float32_t *y, uint32_t n)
{
    arm_biquad_cascade_df2T_instance_f32 instance;
    float32_t *state = calloc(2 * (size_t)n_stages, sizeof(float32_t));
    if (state == NULL)
        return -2;
    arm_biquad_cascade_df2T_init_f32(&instance, (uint8_t)n_stages, coeffs, state);
    arm_biquad_cascade_df2T_f32(&instance, x, y, n);
    free(state);
    return 0;
}

/* arm_rfft_fast_init_f32(&S, fft_length) then arm_rfft_fast_f32(&S, x, out, 0); x is scratch.
 * Returns 0, or -1 (fft_length not supported). */
int mf_rfft_fast_f32(uint32_t fft_length, float32_t *x, float32_t *out)
{
    arm_rfft_fast_instance_f32 instance;
    if (arm_rfft_fast_init_f32(&instance, (uint16_t)fft_length) != ARM_MATH_SUCCESS)
        return -1;
    arm_rfft_fast_f32(&instance, x, out, 0);
    return 0;
}

/* arm_sqrt_f32 (a static inline in CMSIS's fast_math_functions.h). */
int mf_sqrt_f32(float32_t in, float32_t *out)
{
    return (int)arm_sqrt_f32(in, out);
}
