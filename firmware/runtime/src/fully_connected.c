/* FULLY_CONNECTED, int8 with per-tensor or per-channel weights. */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"
#include "mcuforge/dot.h"

/* Equals tflite::reference_integer_ops::FullyConnected (per_channel == 0) and
 * tflite::reference_integer_ops::FullyConnectedPerChannel (per_channel == 1). */
int mf_fully_connected_s8(const mf_fc_params *p, const int8_t *input, const int8_t *weights,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          int8_t *output)
{
    int32_t b, oc, d;
    if (!p || !input || !weights || !multiplier || !shift || !output)
        return MF_ERR_NULL;
    if (p->batches < 1 || p->accum_depth < 1 || p->output_depth < 1)
        return MF_ERR_SHAPE;
    if (p->act_min > p->act_max || p->act_min < -128 || p->act_max > 127)
        return MF_ERR_PARAM;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_row = input + b * p->accum_depth;
        for (oc = 0; oc < p->output_depth; ++oc) {
            const int8_t *w_row = weights + oc * p->accum_depth;
            const int32_t q = p->per_channel ? oc : 0;
            int32_t acc;
            if (p->weights_offset == 0) {
                acc = mf_dot_offset_s8(in_row, w_row, p->accum_depth, p->input_offset);
            } else {
                acc = 0;
                for (d = 0; d < p->accum_depth; ++d)
                    acc += (w_row[d] + p->weights_offset) * (in_row[d] + p->input_offset);
            }
            if (bias)
                acc += bias[oc];
            acc = mf_multiply_by_quantized_multiplier(acc, multiplier[q], (int)shift[q]);
            acc += p->output_offset;
            output[b * p->output_depth + oc] = (int8_t)mf_clamp_i32(acc, p->act_min, p->act_max);
        }
    }
    return MF_OK;
}
