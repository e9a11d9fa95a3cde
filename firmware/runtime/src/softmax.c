/* SOFTMAX int8 -> int8 with gemmlowp fixed-point exp and reciprocal, as in
 * TFLM's reference_ops::Softmax. Raw int32 values carry the fixed-point
 * format in their names: q5 = FixedPoint<int32_t, 5>, q0 = 0 integer bits. */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"

#define FP_MUL(a, b) mf_sat_rounding_doubling_high_mul((a), (b))

/* gemmlowp::SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0. */
static int32_t sat_shift_left(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((((int64_t)1) << (31 - exponent)) - 1);
    if (x > threshold)
        return INT32_MAX;
    if (x < -threshold)
        return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* gemmlowp::exp_on_interval_between_negative_one_quarter_and_0_excl (q0 -> q0). */
static int32_t exp_on_interval_q0(int32_t a)
{
    const int32_t constant_term = 1895147668;
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = wrap_add(a, 1 << 28);
    const int32_t x2 = FP_MUL(x, x);
    const int32_t x3 = FP_MUL(x2, x);
    const int32_t x4 = FP_MUL(x2, x2);
    const int32_t x4_over_4 = mf_rounding_divide_by_pot(x4, 2);
    const int32_t poly = mf_rounding_divide_by_pot(
        wrap_add(FP_MUL(wrap_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return wrap_add(constant_term, FP_MUL(constant_term, wrap_add(x, poly)));
}

/* gemmlowp::exp_on_negative_values<int32_t, 5> (q5 -> q0). */
static int32_t exp_on_negative_values_q5(int32_t a)
{
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                           39332535, 720401, 242};
    const int fractional_bits = 26;
    const int32_t one_quarter = 1 << 24;
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = wrap_sub(a & mask, one_quarter);
    /* Rescale<0> from 5 integer bits: saturating multiply by 2^5. */
    int32_t result = exp_on_interval_q0(sat_shift_left(a_mod_quarter_minus_one_quarter, 5));
    const int32_t remainder = wrap_sub(a_mod_quarter_minus_one_quarter, a);
    int k;
    for (k = 0; k < 7; ++k) {
        const int exponent = k - 2; /* -2 .. +4, all < 5 integer bits */
        if (remainder & (int32_t)(1u << (fractional_bits + exponent)))
            result = FP_MUL(result, multipliers[k]);
    }
    if (a == 0)
        result = INT32_MAX;
    return result;
}

/* gemmlowp::one_over_one_plus_x_for_x_in_0_1 (q0 -> q0). */
static int32_t one_over_one_plus_x_q0(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2); /* RoundingHalfSum */
    const int32_t constant_48_over_17 = 1515870810;     /* q2 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* q2 */
    const int32_t one_q2 = 1 << 29;
    int32_t x = wrap_add(constant_48_over_17, FP_MUL(half_denominator, constant_neg_32_over_17));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = FP_MUL(half_denominator, x);
        const int32_t one_minus = wrap_sub(one_q2, half_denominator_times_x);
        x = wrap_add(x, sat_shift_left(FP_MUL(x, one_minus), 2)); /* Rescale<2> from q4 */
    }
    return sat_shift_left(x, 1); /* Rescale<0>(ExactMulByPot<-1>(x)) */
}

/* tflite::GetReciprocal(x, x_integer_digits = 12, &num_bits_over_unit). */
static int32_t get_reciprocal_q12(int32_t x, int *num_bits_over_unit)
{
    int headroom_plus_one = 0;
    uint32_t ux = (uint32_t)x;
    int32_t shifted_sum_minus_one;
    while (headroom_plus_one < 32 && !(ux & 0x80000000u)) {
        ux <<= 1;
        ++headroom_plus_one;
    }
    *num_bits_over_unit = 12 - headroom_plus_one;
    shifted_sum_minus_one = (int32_t)((headroom_plus_one >= 32 ? 0u : ((uint32_t)x << headroom_plus_one)) -
                                      ((uint32_t)1 << 31));
    return one_over_one_plus_x_q0(shifted_sum_minus_one);
}

/* Equals tflite::reference_ops::Softmax(const SoftmaxParams&, ..., const int8_t*, ..., int8_t*). */
int mf_softmax_s8(const mf_softmax_params *p, const int8_t *input, int8_t *output)
{
    int32_t i, c;
    if (!p || !input || !output)
        return MF_ERR_NULL;
    /* Beyond 65535 classes the Q12 sum of exps would need a shift past 31 bits. */
    if (p->outer_size < 1 || p->depth < 1 || p->depth > 65535)
        return MF_ERR_SHAPE;
    if (p->input_left_shift < 0 || p->input_left_shift > 31)
        return MF_ERR_PARAM;
    for (i = 0; i < p->outer_size; ++i) {
        const int8_t *in_row = input + i * p->depth;
        int8_t *out_row = output + i * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps_q12 = 0;
        int32_t shifted_scale_q0;
        int num_bits_over_unit;
        for (c = 0; c < p->depth; ++c)
            if (in_row[c] > max_in_row)
                max_in_row = in_row[c];
        for (c = 0; c < p->depth; ++c) {
            const int32_t input_diff = in_row[c] - max_in_row;
            if (input_diff >= p->diff_min) {
                const int32_t rescaled = mf_sat_rounding_doubling_high_mul(
                    (int32_t)((uint32_t)input_diff << p->input_left_shift), p->input_multiplier);
                /* Rescale<12> from q0: rounding divide by 2^12. */
                sum_of_exps_q12 = wrap_add(sum_of_exps_q12,
                                           mf_rounding_divide_by_pot(exp_on_negative_values_q5(rescaled), 12));
            }
        }
        shifted_scale_q0 = get_reciprocal_q12(sum_of_exps_q12, &num_bits_over_unit);
        for (c = 0; c < p->depth; ++c) {
            const int32_t input_diff = in_row[c] - max_in_row;
            if (input_diff >= p->diff_min) {
                const int32_t rescaled = mf_sat_rounding_doubling_high_mul(
                    (int32_t)((uint32_t)input_diff << p->input_left_shift), p->input_multiplier);
                const int32_t exp_in_q0 = exp_on_negative_values_q5(rescaled);
                const int32_t unsat = mf_rounding_divide_by_pot(FP_MUL(shifted_scale_q0, exp_in_q0),
                                                                num_bits_over_unit + 31 - 8);
                out_row[c] = (int8_t)mf_clamp_i32(unsat - 128, -128, 127);
            } else {
                out_row[c] = -128;
            }
        }
    }
    return MF_OK;
}
