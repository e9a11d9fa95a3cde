/* ADD, int8, with broadcasting over rank <= 4. */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"

/* Equals tflite::reference_integer_ops::AddFunc (int8), the per-element body of
 * reference_integer_ops::Add and BroadcastAdd6DSlow. */
static int8_t add_element(const mf_add_params *p, int32_t x, int32_t y)
{
    const int32_t in1 = p->input1_offset + x;
    const int32_t in2 = p->input2_offset + y;
    const int32_t shifted1 = in1 * (1 << p->left_shift);
    const int32_t shifted2 = in2 * (1 << p->left_shift);
    const int32_t scaled1 = mf_multiply_by_quantized_multiplier(shifted1, p->input1_multiplier, (int)p->input1_shift);
    const int32_t scaled2 = mf_multiply_by_quantized_multiplier(shifted2, p->input2_multiplier, (int)p->input2_shift);
    const int32_t raw_sum = scaled1 + scaled2;
    const int32_t raw_out = mf_multiply_by_quantized_multiplier(raw_sum, p->output_multiplier, (int)p->output_shift) +
                            p->output_offset;
    return (int8_t)mf_clamp_i32(raw_out, p->act_min, p->act_max);
}

/* Equals tflite::reference_integer_ops::Add / BroadcastAdd6DSlow for int8. */
int mf_add_s8(const mf_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t i0, i1, i2, i3, out_index = 0;
    const int32_t *d = p ? p->out_dims : 0;
    if (!p || !input1 || !input2 || !output)
        return MF_ERR_NULL;
    if (p->left_shift < 0 || p->left_shift > 20 || p->act_min > p->act_max)
        return MF_ERR_PARAM;
    for (i0 = 0; i0 < d[0]; ++i0)
        for (i1 = 0; i1 < d[1]; ++i1)
            for (i2 = 0; i2 < d[2]; ++i2)
                for (i3 = 0; i3 < d[3]; ++i3) {
                    const int32_t a = input1[i0 * p->in1_strides[0] + i1 * p->in1_strides[1] +
                                             i2 * p->in1_strides[2] + i3 * p->in1_strides[3]];
                    const int32_t b = input2[i0 * p->in2_strides[0] + i1 * p->in2_strides[1] +
                                             i2 * p->in2_strides[2] + i3 * p->in2_strides[3]];
                    output[out_index++] = add_element(p, a, b);
                }
    return MF_OK;
}
