/* CONV_2D and FULLY_CONNECTED over bitmap-compressed int8 weights (magnitude-pruned models).
 *
 * Storage, per output channel oc (mcuforge/codegen/sparse_weights.py writes it):
 *   bitmap[oc * words .. (oc + 1) * words)   bit k set <=> weight k is non-zero, k < K,
 *                                             words = ceil(K / 32), K = filter taps x input channels
 *   values[start[oc] ..]                      the non-zero weights in k order
 * Conv also gets, per weight position k (shared by all channels): k_offset[k], the input offset
 * of the tap (fy, fx, c) from the window's origin, and k_tap[k] = fy * filter_w + fx.
 * A zero weight adds nothing to TFLM's integer accumulator, so skipping it changes nothing:
 * both kernels equal mf_conv2d_s8 / mf_fully_connected_s8 bit for bit. */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"

/* acc += sum over the set bits k of one channel's bitmap of (x[k_offset[k]] + x_offset) * w. */
#define MF_SPARSE_FOR_EACH_BIT(bm, words, body)                                   \
    do {                                                                          \
        int32_t w_;                                                               \
        for (w_ = 0; w_ < (words); ++w_) {                                        \
            uint32_t bits_ = (bm)[w_];                                            \
            while (bits_) {                                                       \
                const int32_t k = w_ * 32 + __builtin_ctz(bits_);                  \
                bits_ &= bits_ - 1u;                                              \
                body                                                              \
            }                                                                     \
        }                                                                         \
    } while (0)

int mf_conv2d_sparse_s8(const mf_conv_params *p, const int8_t *input, const uint32_t *bitmap,
                        const int8_t *values, const int32_t *start, const int16_t *k_offset,
                        const uint8_t *k_tap, const int32_t *bias, const int32_t *multiplier,
                        const int32_t *shift, int8_t *output)
{
    uint8_t tap_ok[MF_SPARSE_MAX_TAPS];
    int32_t b, oy, ox, oc, fy, fx;
    int32_t taps, words, out_c;
    if (!p || !input || !bitmap || !values || !start || !k_offset || !k_tap || !multiplier || !shift ||
        !output)
        return MF_ERR_NULL;
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->act_min > p->act_max || p->act_min < -128 || p->act_max > 127)
        return MF_ERR_PARAM;
    if (p->input.n != p->output.n || p->filter.c != p->input.c || p->filter.n != p->output.c)
        return MF_ERR_SHAPE;
    taps = p->filter.h * p->filter.w;
    if (taps > MF_SPARSE_MAX_TAPS)
        return MF_ERR_PARAM;
    words = (taps * p->input.c + 31) / 32;
    out_c = p->output.c;
    for (b = 0; b < p->output.n; ++b)
        for (oy = 0; oy < p->output.h; ++oy)
            for (ox = 0; ox < p->output.w; ++ox) {
                const int32_t in_y0 = oy * p->stride_h - p->pad_h, in_x0 = ox * p->stride_w - p->pad_w;
                const int32_t origin = ((b * p->input.h + in_y0) * p->input.w + in_x0) * p->input.c;
                int8_t *out_px = output + ((b * p->output.h + oy) * p->output.w + ox) * out_c;
                for (fy = 0; fy < p->filter.h; ++fy)
                    for (fx = 0; fx < p->filter.w; ++fx) {
                        const int32_t iy = in_y0 + fy * p->dilation_h, ix = in_x0 + fx * p->dilation_w;
                        tap_ok[fy * p->filter.w + fx] =
                            (uint8_t)(iy >= 0 && iy < p->input.h && ix >= 0 && ix < p->input.w);
                    }
                for (oc = 0; oc < out_c; ++oc) {
                    const int8_t *v = values + start[oc];
                    int32_t acc = bias ? bias[oc] : 0;
                    MF_SPARSE_FOR_EACH_BIT(bitmap + oc * words, words, {
                        const int32_t w = *v++;
                        if (tap_ok[k_tap[k]])
                            acc += (input[origin + k_offset[k]] + p->input_offset) * w;
                    });
                    out_px[oc] = mf_requantize_s8(acc, multiplier[oc], shift[oc], p->output_offset, p->act_min,
                                                  p->act_max);
                }
            }
    return MF_OK;
}

int mf_fully_connected_sparse_s8(const mf_fc_params *p, const int8_t *input, const uint32_t *bitmap,
                                 const int8_t *values, const int32_t *start, const int32_t *bias,
                                 const int32_t *multiplier, const int32_t *shift, int8_t *output)
{
    int32_t b, oc, words;
    if (!p || !input || !bitmap || !values || !start || !multiplier || !shift || !output)
        return MF_ERR_NULL;
    if (p->weights_offset != 0 || p->act_min > p->act_max || p->act_min < -128 || p->act_max > 127)
        return MF_ERR_PARAM;
    words = (p->accum_depth + 31) / 32;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->accum_depth;
        for (oc = 0; oc < p->output_depth; ++oc) {
            const int8_t *v = values + start[oc];
            const int32_t q = p->per_channel ? oc : 0;
            int32_t acc = bias ? bias[oc] : 0;
            MF_SPARSE_FOR_EACH_BIT(bitmap + oc * words, words, {
                acc += (x[k] + p->input_offset) * *v++;
            });
            output[b * p->output_depth + oc] =
                mf_requantize_s8(acc, multiplier[q], shift[q], p->output_offset, p->act_min, p->act_max);
        }
    }
    return MF_OK;
}
