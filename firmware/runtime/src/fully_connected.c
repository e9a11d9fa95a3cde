/* FULLY_CONNECTED, int8 with per-tensor or per-channel weights. */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"
#include "mcuforge/dot.h"

/* Equals tflite::reference_integer_ops::FullyConnected (per_channel == 0) and
 * tflite::reference_integer_ops::FullyConnectedPerChannel (per_channel == 1). */
__attribute__((optimize("O2"))) int mf_fully_connected_s8(const mf_fc_params *p, const int8_t *input, const int8_t *weights,
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
    {
        const int32_t depth = p->accum_depth, out_depth = p->output_depth;
        const int32_t input_offset = p->input_offset, weights_offset = p->weights_offset;
        mf_matvec_params mp;
        mp.bias = bias;
        mp.multiplier = multiplier;
        mp.shift = shift;
        mp.q_step = p->per_channel ? 1 : 0;
        mp.x_offset = input_offset;
        mp.output_offset = p->output_offset;
        mp.act_min = p->act_min;
        mp.act_max = p->act_max;
        for (b = 0; b < p->batches; ++b) {
            const int8_t *in_row = input + b * depth;
            int8_t *out_row = output + b * out_depth;
            if (weights_offset == 0) {
                mf_matvec_body(in_row, weights, depth, depth, out_depth, &mp, out_row);
                continue;
            }
            for (oc = 0; oc < out_depth; ++oc) {
                const int8_t *w_row = weights + oc * depth;
                const int32_t q = oc * mp.q_step;
                int32_t acc = bias ? bias[oc] : 0;
                for (d = 0; d < depth; ++d)
                    acc += (w_row[d] + weights_offset) * (in_row[d] + input_offset);
                out_row[oc] = mf_requantize_s8(acc, multiplier[q], shift[q], mp.output_offset, mp.act_min,
                                               mp.act_max);
            }
        }
    }
    return MF_OK;
}
