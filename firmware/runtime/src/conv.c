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

/* Loop-invariant conv geometry, copied out of the params struct once (int8 output
 * stores could otherwise alias it and force reloads). */
typedef struct {
    const int8_t *input;  /* batch base */
    int32_t in_h, in_w, c, fh, fw, dil_h, dil_w, f_stride, input_offset;
} mf_conv_geom;

/* acc[0..nch) += the taps of output pixel (in_y0, in_x0) for nch (1 or 4) consecutive
 * filters starting at f_blk, per-tap (any dilation). */
__attribute__((noinline)) static void conv_pixel_acc(const mf_conv_geom *g, int32_t in_y0, int32_t in_x0,
                                                     const int8_t *f_blk, int32_t nch, int32_t *acc)
{
    const int32_t c = g->c, fw = g->fw, in_w = g->in_w;
    int32_t fy, fx;
    for (fy = 0; fy < g->fh; ++fy) {
        const int32_t iy = in_y0 + g->dil_h * fy;
        if (iy < 0 || iy >= g->in_h)
            continue;
        for (fx = 0; fx < fw; ++fx) {
            const int32_t ix = in_x0 + g->dil_w * fx;
            const int8_t *in_px = g->input + (iy * in_w + ix) * c;
            const int8_t *f_px = f_blk + (fy * fw + fx) * c;
            if (ix < 0 || ix >= in_w)
                continue;
            if (nch == 4)
                mf_dot4_offset_s8(in_px, f_px, g->f_stride, c, g->input_offset, acc);
            else
                acc[0] += mf_dot_offset_s8(in_px, f_px, c, g->input_offset);
        }
    }
}

/* Equals tflite::reference_integer_ops::ConvPerChannel (groups == 1).
 * With dilation_w == 1 the valid taps of one filter row are contiguous in NHWC (input and
 * filter alike), so each filter row is one dot product of (taps x c) elements; four output
 * channels are computed per pass sharing the input loads. */
int mf_conv2d_s8(const mf_conv_params *p, const int8_t *input, const int8_t *filter,
                 const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                 int8_t *output)
{
    int32_t b, oy, ox, oc, fy;
    int32_t out_h, out_w, out_c, stride_h, stride_w, pad_h, pad_w, row_len;
    int32_t output_offset, act_min, act_max;
    mf_conv_geom g;
    mf_matvec_params mp;
    int status;
    if (!p || !input || !filter || !multiplier || !shift || !output)
        return MF_ERR_NULL;
    status = check_conv_common(p);
    if (status != MF_OK)
        return status;
    if (p->filter.c != p->input.c || p->filter.n != p->output.c)
        return MF_ERR_SHAPE;
    g.in_h = p->input.h;
    g.in_w = p->input.w;
    g.c = p->input.c;
    g.fh = p->filter.h;
    g.fw = p->filter.w;
    g.dil_h = p->dilation_h;
    g.dil_w = p->dilation_w;
    g.f_stride = g.fh * g.fw * g.c;
    g.input_offset = p->input_offset;
    out_h = p->output.h;
    out_w = p->output.w;
    out_c = p->output.c;
    stride_h = p->stride_h;
    stride_w = p->stride_w;
    pad_h = p->pad_h;
    pad_w = p->pad_w;
    output_offset = p->output_offset;
    act_min = p->act_min;
    act_max = p->act_max;
    row_len = g.in_w * g.c;
    mp.bias = bias;
    mp.multiplier = multiplier;
    mp.shift = shift;
    mp.q_step = 1;
    mp.x_offset = g.input_offset;
    mp.output_offset = output_offset;
    mp.act_min = act_min;
    mp.act_max = act_max;
    for (b = 0; b < p->output.n; ++b) {
        g.input = input + b * g.in_h * row_len;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y0 = oy * stride_h - pad_h;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t in_x0 = ox * stride_w - pad_w;
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * out_c;
                /* valid filter columns [f_lo, f_hi) when dilation_w == 1 */
                const int32_t f_lo = in_x0 < 0 ? -in_x0 : 0;
                const int32_t f_hi = (g.in_w - in_x0 < g.fw) ? g.in_w - in_x0 : g.fw;
                const int32_t span = (f_hi - f_lo) * g.c;
                const int8_t *in_span = g.input + (in_x0 + f_lo) * g.c;
                if (g.dil_w == 1 && span > 0 && g.fh == 1 && in_y0 >= 0 && in_y0 < g.in_h) {
                    /* one contiguous span: a matrix-vector product over all output channels */
                    mf_matvec_s8(in_span + in_y0 * row_len, filter + f_lo * g.c, g.f_stride, span, out_c, &mp,
                                 out_px);
                    continue;
                }
                for (oc = 0; oc < out_c;) {
                    int32_t acc[4];
                    const int32_t nch = (out_c - oc >= 4) ? 4 : 1;
                    const int8_t *f_blk = filter + oc * g.f_stride;
                    int32_t k;
                    for (k = 0; k < nch; ++k)
                        acc[k] = bias ? bias[oc + k] : 0;
                    if (g.dil_w != 1) {
                        conv_pixel_acc(&g, in_y0, in_x0, f_blk, nch, acc);
                    } else if (span > 0) {
                        const int8_t *f_span = f_blk + f_lo * g.c;
                        for (fy = 0; fy < g.fh; ++fy) {
                            const int32_t iy = in_y0 + g.dil_h * fy;
                            if (iy < 0 || iy >= g.in_h)
                                continue;
                            if (nch == 4)
                                mf_dot4_offset_s8(in_span + iy * row_len, f_span + fy * g.fw * g.c, g.f_stride,
                                                  span, g.input_offset, acc);
                            else
                                acc[0] += mf_dot_offset_s8(in_span + iy * row_len, f_span + fy * g.fw * g.c,
                                                           span, g.input_offset);
                        }
                    }
                    mf_requantize_block_s8(acc, nch, multiplier + oc, shift + oc, output_offset, act_min,
                                           act_max, out_px + oc);
                    oc += nch;
                }
            }
        }
    }
    return MF_OK;
}

/* [*lo, *hi): the filter taps t with 0 <= start + dil * t < size, clipped to [0, taps). */
static void valid_taps(int32_t start, int32_t dil, int32_t size, int32_t taps, int32_t *lo, int32_t *hi)
{
    int32_t l = 0, h;
    if (start < 0)
        l = (-start + dil - 1) / dil;
    if (size - 1 - start < 0)
        h = 0;
    else
        h = (size - 1 - start) / dil + 1;
    if (h > taps)
        h = taps;
    *lo = l;
    *hi = h;
}

#define MF_DW_CHUNK 16

/* Equals tflite::reference_integer_ops::DepthwiseConvPerChannel. */
__attribute__((optimize("O2"))) int mf_depthwise_conv2d_s8(const mf_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                           int8_t *output)
{
    int32_t b, oy, ox, fy, fx;
    int32_t in_h, in_w, in_c, fh, fw, out_h, out_w, out_c, dm, dil_h, dil_w, stride_h, stride_w, pad_h, pad_w;
    int32_t input_offset, output_offset, act_min, act_max;
    int status;
    if (!p || !input || !filter || !multiplier || !shift || !output)
        return MF_ERR_NULL;
    status = check_conv_common(p);
    if (status != MF_OK)
        return status;
    if (p->depth_multiplier < 1 || p->filter.n != 1 || p->filter.c != p->output.c ||
        p->output.c != p->input.c * p->depth_multiplier)
        return MF_ERR_SHAPE;
    in_h = p->input.h;
    in_w = p->input.w;
    in_c = p->input.c;
    fh = p->filter.h;
    fw = p->filter.w;
    out_h = p->output.h;
    out_w = p->output.w;
    out_c = p->output.c;
    dm = p->depth_multiplier;
    dil_h = p->dilation_h;
    dil_w = p->dilation_w;
    stride_h = p->stride_h;
    stride_w = p->stride_w;
    pad_h = p->pad_h;
    pad_w = p->pad_w;
    input_offset = p->input_offset;
    output_offset = p->output_offset;
    act_min = p->act_min;
    act_max = p->act_max;
    for (b = 0; b < p->output.n; ++b) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y0 = oy * stride_h - pad_h;
            int32_t fy_lo, fy_hi;
            valid_taps(in_y0, dil_h, in_h, fh, &fy_lo, &fy_hi);
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t in_x0 = ox * stride_w - pad_w;
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * out_c;
                int32_t fx_lo, fx_hi, oc0;
                valid_taps(in_x0, dil_w, in_w, fw, &fx_lo, &fx_hi);
                for (oc0 = 0; oc0 < out_c; oc0 += MF_DW_CHUNK) {
                    int32_t acc[MF_DW_CHUNK];
                    const int32_t n = (out_c - oc0 < MF_DW_CHUNK) ? out_c - oc0 : MF_DW_CHUNK;
                    int32_t k;
                    if (dm == 1) {
                        /* channel-contiguous: input and filter taps are both NHWC rows over c */
                        for (k = 0; k < n; ++k)
                            acc[k] = bias ? bias[oc0 + k] : 0;
                        for (fy = fy_lo; fy < fy_hi; ++fy) {
                            for (fx = fx_lo; fx < fx_hi; ++fx) {
                                const int8_t *in_px =
                                    in_b + ((in_y0 + dil_h * fy) * in_w + in_x0 + dil_w * fx) * in_c + oc0;
                                const int8_t *f_px = filter + (fy * fw + fx) * out_c + oc0;
                                for (k = 0; k < n; ++k)
                                    acc[k] += f_px[k] * (in_px[k] + input_offset);
                            }
                        }
                        mf_requantize_block_s8(acc, n, multiplier + oc0, shift + oc0, output_offset, act_min,
                                               act_max, out_px + oc0);
                        continue;
                    }
                    for (k = 0; k < n; ++k) {
                        const int32_t oc = oc0 + k;
                        const int32_t ic = oc / dm;
                        int32_t a = bias ? bias[oc] : 0;
                        for (fy = fy_lo; fy < fy_hi; ++fy) {
                            const int8_t *in_px = in_b + ((in_y0 + dil_h * fy) * in_w + in_x0 + dil_w * fx_lo) * in_c + ic;
                            const int8_t *f_px = filter + (fy * fw + fx_lo) * out_c + oc;
                            for (fx = fx_lo; fx < fx_hi; ++fx) {
                                a += *f_px * (*in_px + input_offset);
                                in_px += dil_w * in_c;
                                f_px += out_c;
                            }
                        }
                        acc[k] = a;
                    }
                    mf_requantize_block_s8(acc, n, multiplier + oc0, shift + oc0, output_offset, act_min, act_max,
                                           out_px + oc0);
                }
            }
        }
    }
    return MF_OK;
}
