/* MEAN over any set of axes of a rank <= 4 int8 tensor. */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"

/* Sum of the input over the reduced axes for the output position `o`. */
static int32_t reduced_sum(const mf_mean_params *p, const int8_t *input, const int32_t o[4])
{
    const int32_t *d = p->dims;
    int32_t q0, q1, q2, q3;
    const int32_t e0 = p->reduce[0] ? d[0] : 1, e1 = p->reduce[1] ? d[1] : 1;
    const int32_t e2 = p->reduce[2] ? d[2] : 1, e3 = p->reduce[3] ? d[3] : 1;
    int32_t sum = 0;
    for (q0 = 0; q0 < e0; ++q0)
        for (q1 = 0; q1 < e1; ++q1)
            for (q2 = 0; q2 < e2; ++q2)
                for (q3 = 0; q3 < e3; ++q3) {
                    const int32_t i0 = o[0] + q0, i1 = o[1] + q1, i2 = o[2] + q2, i3 = o[3] + q3;
                    sum = (int32_t)((uint32_t)sum + (uint32_t)(int32_t)input[((i0 * d[1] + i1) * d[2] + i2) * d[3] + i3]);
                }
    return sum;
}

/* Equals tflite::reference_ops::QuantizedMeanOrSum<int8_t, int32_t>(compute_sum=false)
 * with the 1/num_elements factor already folded into multiplier/shift (done in Python,
 * exactly as the reference does at run time). The tflite_micro interpreter measured here
 * takes this path also when input and output quantisation are equal. */
int mf_mean_s8(const mf_mean_params *p, const int8_t *input, int8_t *output)
{
    int32_t o[4];
    int32_t k, count = 1, out_index = 0;
    if (!p || !input || !output)
        return MF_ERR_NULL;
    for (k = 0; k < 4; ++k) {
        if (p->dims[k] < 1)
            return MF_ERR_SHAPE;
        if (p->reduce[k])
            count *= p->dims[k];
    }
    if (p->shift < -31 || p->shift > 30)
        return MF_ERR_PARAM;
    for (o[0] = 0; o[0] < (p->reduce[0] ? 1 : p->dims[0]); ++o[0])
        for (o[1] = 0; o[1] < (p->reduce[1] ? 1 : p->dims[1]); ++o[1])
            for (o[2] = 0; o[2] < (p->reduce[2] ? 1 : p->dims[2]); ++o[2])
                for (o[3] = 0; o[3] < (p->reduce[3] ? 1 : p->dims[3]); ++o[3]) {
                    const int32_t shifted_sum = reduced_sum(p, input, o) - p->input_zp * count;
                    const int32_t value = mf_multiply_by_quantized_multiplier(shifted_sum, p->multiplier,
                                                                              (int)p->shift) + p->output_zp;
                    output[out_index++] = (int8_t)mf_clamp_i32(value, -128, 127);
                }
    return MF_OK;
}
