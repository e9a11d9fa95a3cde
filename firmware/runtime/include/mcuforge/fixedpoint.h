/* Fixed-point helpers with TFLite Micro (gemmlowp, double rounding) semantics.
 * Header-only so every kernel can inline them. C99, no libm. */
#ifndef MCUFORGE_FIXEDPOINT_H
#define MCUFORGE_FIXEDPOINT_H

#include <stdint.h>

/* The 64-bit product a * b as (high word, low word) from four 16 x 16-bit multiplies: ARMv6-M
 * (Cortex-M0/M0+) has no SMULL, and gcc calls libgcc's __aeabi_lmul for the int64 multiply.
 * Hacker's Delight's mulhs: every partial sum fits int32 (|ah * bl| <= 2^15 (2^16 - 1)). */
static inline int32_t mf_mul_s32x32_hi_lo(int32_t a, int32_t b, uint32_t *lo)
{
    const uint32_t al = (uint32_t)a & 0xFFFFu, bl = (uint32_t)b & 0xFFFFu;
    const int32_t ah = a >> 16, bh = b >> 16;
    const uint32_t ll = al * bl;
    const int32_t t = ah * (int32_t)bl + (int32_t)(ll >> 16);
    const int32_t u = (int32_t)al * bh + (t & 0xFFFF);
    *lo = ((uint32_t)u << 16) | (ll & 0xFFFFu);
    return ah * bh + (t >> 16) + (u >> 16);
}

#if (defined(__thumb__) && !defined(__thumb2__)) || defined(MF_MUL32_HIGH)
#define MF_SRDHM_MUL32 1 /* ARMv6-M, or a host test of the same path */
#endif

/* gemmlowp::SaturatingRoundingDoublingHighMul(int32, int32).
 * gemmlowp computes (ab + nudge) / 2^31 truncating toward zero, nudge = 2^30 for ab >= 0
 * and 1 - 2^30 otherwise. For ab < 0, trunc(v / 2^31) == (v + 2^31 - 1) >> 31 (floor), and
 * v + 2^31 - 1 == ab + 2^30; for ab >= 0 it is (ab + 2^30) >> 31 directly. So both cases
 * are one arithmetic shift of ab + 2^30 (SMULL, ADDS, ADC, shifts on Cortex-M; on ARMv6-M the
 * same 64-bit sum from mf_mul_s32x32_hi_lo's words, the carry of the low word added by hand). */
static inline int32_t mf_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
#if defined(MF_SRDHM_MUL32)
    uint32_t lo;
    int32_t hi;
    if ((uint32_t)a + 0x8000u < 0x10000u && b >= 0) {
        /* |a| <= 2^15: a * (b >> 16) and a * (b & 0xFFFF) fit int32, and
         * floor((ab + 2^30) / 2^16) = a * bh + ((a * bl) >> 16) + 2^14 (2^30 is a multiple of 2^16) */
        return (a * (b >> 16) + ((a * (int32_t)((uint32_t)b & 0xFFFFu)) >> 16) + (1 << 14)) >> 15;
    }
    hi = mf_mul_s32x32_hi_lo(a, b, &lo);
    const uint32_t lo_nudged = lo + 0x40000000u;
    const uint32_t hi_nudged = (uint32_t)hi + (lo_nudged < lo ? 1u : 0u);
    const int32_t high = (int32_t)((hi_nudged << 1) | (lo_nudged >> 31));
#else
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int32_t high = (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
#endif
    if ((a == b) && (a == INT32_MIN))
        return INT32_MAX;
    return high;
}

/* floor(a b / 2^22) for |a| < 2^20 and b = b2 2^22 + b1 2^11 + b0 >= 0 (b0, b1 < 2^11, b2 < 2^9),
 * in three 32-bit multiplies: ARMv6-M's MULS keeps only the low word. Every partial product fits
 * int32 (|a b1| + 2^20 < 2^31), and floor divisions nest (floor(floor(v / 2^p) / 2^q) =
 * floor(v / 2^(p+q))): floor(a b / 2^22) = a b2 + ((a b1 + ((a b0) >> 11)) >> 11). */
static inline int32_t mf_mul_high22_split(int32_t a, int32_t b0, int32_t b1, int32_t b2)
{
    return a * b2 + ((a * b1 + ((a * b0) >> 11)) >> 11);
}

/* mf_sat_rounding_doubling_high_mul(a, b) for |a| < 2^20 and b >= 0, which the caller proves
 * (mcuforge.codegen.conv_fast.acc_below_2p20 does at codegen time), without a 64-bit product (the
 * general path above needs four multiplies plus carries): floor((ab + 2^30) / 2^31) =
 * (floor(ab / 2^22) + 2^8) >> 9, the floor divisions nesting. */
static inline int32_t mf_srdhm_below_2p20(int32_t a, int32_t b)
{
    const int32_t b0 = (int32_t)((uint32_t)b & 0x7FFu), b1 = (int32_t)(((uint32_t)b >> 11) & 0x7FFu);
    return (mf_mul_high22_split(a, b0, b1, b >> 22) + (1 << 8)) >> 9;
}

/* gemmlowp::RoundingDivideByPOT(int32, exponent), exponent in [0, 31]. */
static inline int32_t mf_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((1u << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
    return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

/* mf_rounding_divide_by_pot for exponent >= 1 and x + 2^(exponent - 1) <= INT32_MAX (the caller
 * proves the bound; mcuforge.codegen.dwconv_fast does at codegen time). With x = q 2^e + rem:
 * x >= 0 rounds up iff rem >= 2^(e-1), x < 0 iff rem >= 2^(e-1) + 1, i.e. floor((x + 2^(e-1) -
 * [x < 0]) / 2^e) in both cases: one add, one subtract of the sign bit and one shift. */
static inline int32_t mf_rounding_divide_by_pot_nudged(int32_t x, int exponent)
{
    return (x + (int32_t)(1u << (exponent - 1)) - (int32_t)((uint32_t)x >> 31)) >> exponent;
}

/* tflite::MultiplyByQuantizedMultiplier(int32_t, int32_t, int) without
 * TFLITE_SINGLE_ROUNDING: the left shift wraps like TFLM's int32 multiply.
 * Always inlined into the hot output stages; mf_multiply_by_quantized_multiplier is the
 * same computation left to the compiler's inlining choice. */
__attribute__((always_inline)) static inline int32_t mf_mbqm_inline(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift & ~(shift >> 31); /* shift > 0 ? shift : 0 (arithmetic >>) */
    const int right_shift = left_shift - shift;     /* shift > 0 ? 0 : -shift */
    const int32_t shifted = (int32_t)((uint32_t)x << left_shift);
    return mf_rounding_divide_by_pot(mf_sat_rounding_doubling_high_mul(shifted, multiplier), right_shift);
}

static inline int32_t mf_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift)
{
    return mf_mbqm_inline(x, multiplier, shift);
}

static inline int32_t mf_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
#include <arm_acle.h>
/* clamp(v, -128, 127) in one SSAT (ARMv7-M and later) */
#define MF_SAT_S8(v) __ssat((v), 8)
#endif

/* clamp(v, act_min, act_max): with a literal full int8 range (the usual ReLU with output zero
 * point -128, or no activation), one SSAT where the core has it; gcc -Os otherwise emits two
 * compares and two conditional moves. */
__attribute__((always_inline)) static inline int32_t mf_clamp_act(int32_t v, int32_t act_min, int32_t act_max)
{
#if defined(MF_SAT_S8)
    if (__builtin_constant_p(act_min) && __builtin_constant_p(act_max) && act_min == -128 && act_max == 127)
        return MF_SAT_S8(v);
#endif
    return mf_clamp_i32(v, act_min, act_max);
}

/* Per-channel int8 output stage of TFLM's conv / fully-connected kernels:
 * MultiplyByQuantizedMultiplier, + output offset, clamp to [act_min, act_max]. */
__attribute__((always_inline)) static inline int8_t mf_requantize_s8(int32_t acc, int32_t multiplier, int32_t shift,
                                      int32_t output_offset, int32_t act_min, int32_t act_max)
{
    acc = mf_mbqm_inline(acc, multiplier, (int)shift);
    acc += output_offset;
    return (int8_t)mf_clamp_act(acc, act_min, act_max);
}

/* mf_requantize_s8 for a shift <= 0, given as right_shift = -shift (0..31): the same value without
 * the left-shift path, for callers that know the sign at compile time (conv_fast.h, dwconv_fast.h).
 * With `nudged` (a literal: the codegen proved right_shift >= 1 and |acc| + 2^(right_shift - 1) <=
 * INT32_MAX, mcuforge.codegen.conv_fast.nudged_rounding) the division is
 * mf_rounding_divide_by_pot_nudged; the doubling high multiply's result is at most |acc| because
 * multiplier < 2^31, so the bound carries over. With `below_2p20` (a literal: the codegen proved
 * |acc| < 2^20 and multiplier >= 0, mcuforge.codegen.conv_fast.acc_below_2p20) the 32-bit-multiply
 * cores (ARMv6-M) take mf_srdhm_below_2p20; the others have a 64-bit product in one instruction. */
__attribute__((always_inline)) static inline int8_t mf_requantize_right_s8(int32_t acc, int32_t multiplier,
                                                                         int32_t right_shift, int32_t nudged,
                                                                         int32_t below_2p20, int32_t output_offset,
                                                                         int32_t act_min, int32_t act_max)
{
#if defined(MF_SRDHM_MUL32)
    const int32_t high = below_2p20 ? mf_srdhm_below_2p20(acc, multiplier)
                                    : mf_sat_rounding_doubling_high_mul(acc, multiplier);
#else
    const int32_t high = ((void)below_2p20, mf_sat_rounding_doubling_high_mul(acc, multiplier));
#endif
    acc = nudged ? mf_rounding_divide_by_pot_nudged(high, (int)right_shift)
                 : mf_rounding_divide_by_pot(high, (int)right_shift);
    acc += output_offset;
    return (int8_t)mf_clamp_act(acc, act_min, act_max);
}

/* mf_mbqm_inline (MultiplyByQuantizedMultiplier) where mf_requantize_right_s8 would take `nudged`
 * and `below_2p20`, for a right shift s in [1, 22], from the
 * channel's five precomputed words q = {b0, b1, b2, 2^(8+s), 9+s} (b = the multiplier split as in
 * mf_mul_high22_split; mcuforge.codegen.conv_fast.armv6m_requant_table writes them): both roundings
 * in one shift. With A = floor((acc b) / 2^22) + 2^8 the high multiply is h = floor(A / 2^9), h < 0
 * iff A < 0, and the nudged division floor((h + 2^(s-1) - [h < 0]) / 2^s) nests into
 * floor((A + 2^(8+s) - 2^9 [A < 0]) / 2^(9+s)); |A| <= 2^29 + 2^8 and 2^(8+s) <= 2^30 fit int32. */
static inline int32_t mf_mbqm_table(int32_t acc, const int32_t *q)
{
    const int32_t a = mf_mul_high22_split(acc, q[0], q[1], q[2]) + (1 << 8);
    return (a + q[3] - (int32_t)(((uint32_t)a >> 31) << 9)) >> q[4];
}

/* The int8 output stage around mf_mbqm_table: + output offset, clamp. */
__attribute__((always_inline)) static inline int8_t mf_requantize_table_s8(int32_t acc, const int32_t *q,
                                                                         int32_t output_offset, int32_t act_min,
                                                                         int32_t act_max)
{
    return (int8_t)mf_clamp_act(mf_mbqm_table(acc, q) + output_offset, act_min, act_max);
}

/* out[k] = mf_requantize_s8(acc[k], multiplier[k], shift[k], ...) for k < n (per-channel arrays). */
__attribute__((noinline, unused)) static void mf_requantize_block_s8(const int32_t *acc, int32_t n,
                                                                    const int32_t *multiplier, const int32_t *shift,
                                                                    int32_t output_offset, int32_t act_min,
                                                                    int32_t act_max, int8_t *out)
{
    int32_t k;
    for (k = 0; k < n; ++k)
        out[k] = mf_requantize_s8(acc[k], multiplier[k], shift[k], output_offset, act_min, act_max);
}

#endif /* MCUFORGE_FIXEDPOINT_H */
