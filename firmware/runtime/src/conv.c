/* CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel. */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"
#include "mcuforge/dot.h"

static int check_conv_common(const mf_conv_params *p)
{
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1)
        return MF_ERR_PARAM;
    if (p->act_min > p->act_max || p->act_min < -128 || p->act_max > 127)
        return MF_ERR_PARAM;
    if (p->input.n != p->output.n)
        return MF_ERR_SHAPE;
    return MF_OK;
}

static int8_t requantize(int32_t acc, const mf_conv_params *p, int32_t multiplier, int32_t shift)
{
    acc = mf_multiply_by_quantized_multiplier(acc, multiplier, (int)shift);
    acc += p->output_offset;
    return (int8_t)mf_clamp_i32(acc, p->act_min, p->act_max);
}

/* Equals tflite::reference_integer_ops::ConvPerChannel (groups == 1). */
int mf_conv2d_s8(const mf_conv_params *p, const int8_t *input, const int8_t *filter,
                 const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                 int8_t *output)
{
    int32_t b, oy, ox, oc, fy, fx;
    int status;
    if (!p || !input || !filter || !multiplier || !shift || !output)
        return MF_ERR_NULL;
    status = check_conv_common(p);
    if (status != MF_OK)
        return status;
    if (p->filter.c != p->input.c || p->filter.n != p->output.c)
        return MF_ERR_SHAPE;
    for (b = 0; b < p->output.n; ++b) {
        for (oy = 0; oy < p->output.h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            for (ox = 0; ox < p->output.w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out_px = output + ((b * p->output.h + oy) * p->output.w + ox) * p->output.c;
                for (oc = 0; oc < p->output.c; ++oc) {
                    int32_t acc = 0;
                    for (fy = 0; fy < p->filter.h; ++fy) {
                        const int32_t iy = in_y0 + p->dilation_h * fy;
                        if (iy < 0 || iy >= p->input.h)
                            continue;
                        for (fx = 0; fx < p->filter.w; ++fx) {
                            const int32_t ix = in_x0 + p->dilation_w * fx;
                            const int8_t *in_px;
                            const int8_t *f_px;
                            if (ix < 0 || ix >= p->input.w)
                                continue;
                            in_px = input + ((b * p->input.h + iy) * p->input.w + ix) * p->input.c;
                            f_px = filter + ((oc * p->filter.h + fy) * p->filter.w + fx) * p->filter.c;
                            acc += mf_dot_offset_s8(in_px, f_px, p->input.c, p->input_offset);
                        }
                    }
                    if (bias)
                        acc += bias[oc];
                    out_px[oc] = requantize(acc, p, multiplier[oc], shift[oc]);
                }
            }
        }
    }
    return MF_OK;
}

/* Equals tflite::reference_integer_ops::DepthwiseConvPerChannel. */
int mf_depthwise_conv2d_s8(const mf_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                           int8_t *output)
{
    int32_t b, oy, ox, ic, m, fy, fx;
    int status;
    if (!p || !input || !filter || !multiplier || !shift || !output)
        return MF_ERR_NULL;
    status = check_conv_common(p);
    if (status != MF_OK)
        return status;
    if (p->depth_multiplier < 1 || p->filter.n != 1 || p->filter.c != p->output.c ||
        p->output.c != p->input.c * p->depth_multiplier)
        return MF_ERR_SHAPE;
    for (b = 0; b < p->output.n; ++b) {
        for (oy = 0; oy < p->output.h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            for (ox = 0; ox < p->output.w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out_px = output + ((b * p->output.h + oy) * p->output.w + ox) * p->output.c;
                for (ic = 0; ic < p->input.c; ++ic) {
                    for (m = 0; m < p->depth_multiplier; ++m) {
                        const int32_t oc = m + ic * p->depth_multiplier;
                        int32_t acc = 0;
                        for (fy = 0; fy < p->filter.h; ++fy) {
                            const int32_t iy = in_y0 + p->dilation_h * fy;
                            if (iy < 0 || iy >= p->input.h)
                                continue;
                            for (fx = 0; fx < p->filter.w; ++fx) {
                                const int32_t ix = in_x0 + p->dilation_w * fx;
                                int32_t in_val, f_val;
                                if (ix < 0 || ix >= p->input.w)
                                    continue;
                                in_val = input[((b * p->input.h + iy) * p->input.w + ix) * p->input.c + ic];
                                f_val = filter[(fy * p->filter.w + fx) * p->filter.c + oc];
                                acc += f_val * (in_val + p->input_offset);
                            }
                        }
                        if (bias)
                            acc += bias[oc];
                        out_px[oc] = requantize(acc, p, multiplier[oc], shift[oc]);
                    }
                }
            }
        }
    }
    return MF_OK;
}
