/* MAX_POOL_2D and AVERAGE_POOL_2D, int8 (input and output share quantisation). */
#include "mcuforge/fixedpoint.h"
#include "mcuforge/kernels.h"

static int check_pool(const mf_pool_params *p, const int8_t *input, const int8_t *output)
{
    if (!p || !input || !output)
        return MF_ERR_NULL;
    if (p->stride_h < 1 || p->stride_w < 1 || p->filter_h < 1 || p->filter_w < 1)
        return MF_ERR_PARAM;
    if (p->act_min > p->act_max || p->act_min < -128 || p->act_max > 127)
        return MF_ERR_PARAM;
    if (p->input.n != p->output.n || p->input.c != p->output.c)
        return MF_ERR_SHAPE;
    return MF_OK;
}

static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* Equals tflite::reference_integer_ops::MaxPool. */
int mf_max_pool_s8(const mf_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, fy, fx;
    const int status = check_pool(p, input, output);
    if (status != MF_OK)
        return status;
    for (b = 0; b < p->output.n; ++b)
        for (oy = 0; oy < p->output.h; ++oy)
            for (ox = 0; ox < p->output.w; ++ox)
                for (c = 0; c < p->output.c; ++c) {
                    const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                    const int32_t in_y0 = oy * p->stride_h - p->pad_h;
                    const int32_t fx_start = max_i32(0, -in_x0);
                    const int32_t fx_end = min_i32(p->filter_w, p->input.w - in_x0);
                    const int32_t fy_start = max_i32(0, -in_y0);
                    const int32_t fy_end = min_i32(p->filter_h, p->input.h - in_y0);
                    int32_t best = -128;
                    for (fy = fy_start; fy < fy_end; ++fy)
                        for (fx = fx_start; fx < fx_end; ++fx) {
                            const int32_t v = input[((b * p->input.h + in_y0 + fy) * p->input.w +
                                                     in_x0 + fx) * p->input.c + c];
                            best = max_i32(best, v);
                        }
                    best = mf_clamp_i32(best, p->act_min, p->act_max);
                    output[((b * p->output.h + oy) * p->output.w + ox) * p->output.c + c] = (int8_t)best;
                }
    return MF_OK;
}

/* Equals tflite::reference_integer_ops::AveragePool (int8). */
int mf_avg_pool_s8(const mf_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, fy, fx;
    const int status = check_pool(p, input, output);
    if (status != MF_OK)
        return status;
    for (b = 0; b < p->output.n; ++b)
        for (oy = 0; oy < p->output.h; ++oy)
            for (ox = 0; ox < p->output.w; ++ox)
                for (c = 0; c < p->output.c; ++c) {
                    const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                    const int32_t in_y0 = oy * p->stride_h - p->pad_h;
                    const int32_t fx_start = max_i32(0, -in_x0);
                    const int32_t fx_end = min_i32(p->filter_w, p->input.w - in_x0);
                    const int32_t fy_start = max_i32(0, -in_y0);
                    const int32_t fy_end = min_i32(p->filter_h, p->input.h - in_y0);
                    int32_t acc = 0;
                    int32_t count = 0;
                    for (fy = fy_start; fy < fy_end; ++fy)
                        for (fx = fx_start; fx < fx_end; ++fx) {
                            acc += input[((b * p->input.h + in_y0 + fy) * p->input.w + in_x0 + fx) *
                                         p->input.c + c];
                            ++count;
                        }
                    if (count == 0)
                        return MF_ERR_PARAM;
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    acc = mf_clamp_i32(acc, p->act_min, p->act_max);
                    output[((b * p->output.h + oy) * p->output.w + ox) * p->output.c + c] = (int8_t)acc;
                }
    return MF_OK;
}
