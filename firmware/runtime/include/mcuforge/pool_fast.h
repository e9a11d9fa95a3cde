/* Specialised MAX_POOL_2D, AVERAGE_POOL_2D and MEAN bodies, instantiated once per layer by the
 * generated code with every shape and quantisation constant a literal (see conv_fast.h).
 * Batch 1, NHWC. Same results as the portable kernels in src/pooling.c and src/mean.c:
 * tflite::reference_integer_ops::MaxPool / AveragePool and
 * tflite::reference_ops::QuantizedMeanOrSum<int8_t, int32_t>(compute_sum=false). */
#ifndef MCUFORGE_POOL_FAST_H
#define MCUFORGE_POOL_FAST_H

#include <stdint.h>
#include "mcuforge/fixedpoint.h"

/* is_max: 1 = MaxPool, 0 = AveragePool. Channels are the innermost loop: each tap is one
 * contiguous row of c bytes. */
__attribute__((always_inline)) static inline void mf_pool_fast_s8(
    const int8_t *input, int8_t *output, int32_t in_h, int32_t in_w, int32_t c, int32_t out_h, int32_t out_w,
    int32_t fh, int32_t fw, int32_t sh, int32_t sw, int32_t pad_h, int32_t pad_w, int32_t act_min,
    int32_t act_max, int32_t is_max)
{
    int32_t oy, ox, fy, fx, k;
    for (oy = 0; oy < out_h; ++oy) {
        const int32_t in_y0 = oy * sh - pad_h;
        const int32_t fy0 = in_y0 < 0 ? -in_y0 : 0;
        const int32_t fy1 = (in_h - in_y0 < fh) ? in_h - in_y0 : fh;
        for (ox = 0; ox < out_w; ++ox) {
            const int32_t in_x0 = ox * sw - pad_w;
            const int32_t fx0 = in_x0 < 0 ? -in_x0 : 0;
            const int32_t fx1 = (in_w - in_x0 < fw) ? in_w - in_x0 : fw;
            const int8_t *base = input + (in_y0 * in_w + in_x0) * c;
            int8_t *out = output + (oy * out_w + ox) * c;
            const int32_t count = (fy1 - fy0) * (fx1 - fx0);
            for (k = 0; k < c; ++k) {
                int32_t acc = is_max ? -128 : 0;
                for (fy = fy0; fy < fy1; ++fy)
                    for (fx = fx0; fx < fx1; ++fx) {
                        const int32_t v = base[(fy * in_w + fx) * c + k];
                        if (is_max)
                            acc = v > acc ? v : acc;
                        else
                            acc += v;
                    }
                if (!is_max)
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                out[k] = (int8_t)mf_clamp_i32(acc, act_min, act_max);
            }
        }
    }
}

/* MEAN over one contiguous block of axes: input [outer][mid][inner] -> output [outer][inner]. */
__attribute__((always_inline)) static inline void mf_mean_fast_s8(const int8_t *input, int8_t *output, int32_t outer,
                                                                 int32_t mid, int32_t inner, int32_t input_zp,
                                                                 int32_t output_zp, int32_t multiplier, int32_t shift)
{
    int32_t o, m, k;
    for (o = 0; o < outer; ++o) {
        const int8_t *in = input + o * mid * inner;
        for (k = 0; k < inner; ++k) {
            uint32_t sum = 0;
            for (m = 0; m < mid; ++m)
                sum += (uint32_t)(int32_t)in[m * inner + k];
            {
                const int32_t shifted = (int32_t)(sum - (uint32_t)(input_zp * mid));
                const int32_t value = mf_mbqm_inline(shifted, multiplier, (int)shift) + output_zp;
                output[o * inner + k] = (int8_t)mf_clamp_i32(value, -128, 127);
            }
        }
    }
}

#endif /* MCUFORGE_POOL_FAST_H */
