/* Fixed-point helpers with TFLite Micro (gemmlowp, double rounding) semantics.
 * Header-only so every kernel can inline them. C99, no libm. */
#ifndef MCUFORGE_FIXEDPOINT_H
#define MCUFORGE_FIXEDPOINT_H

#include <stdint.h>

/* gemmlowp::SaturatingRoundingDoublingHighMul(int32, int32). */
static inline int32_t mf_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    const int overflow = (a == b) && (a == INT32_MIN);
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    const int32_t high = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    return overflow ? INT32_MAX : high;
}

/* gemmlowp::RoundingDivideByPOT(int32, exponent), exponent in [0, 31]. */
static inline int32_t mf_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((((int64_t)1) << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
    return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

/* tflite::MultiplyByQuantizedMultiplier(int32_t, int32_t, int) without
 * TFLITE_SINGLE_ROUNDING: the left shift wraps like TFLM's int32 multiply. */
static inline int32_t mf_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left_shift);
    return mf_rounding_divide_by_pot(mf_sat_rounding_doubling_high_mul(shifted, multiplier), right_shift);
}

static inline int32_t mf_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

#endif /* MCUFORGE_FIXEDPOINT_H */
