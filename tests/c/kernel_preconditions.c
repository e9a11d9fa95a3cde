/* Every kernel rejects NULL pointers and bad parameters with its documented error code.
 * Exit status 0 when all checks hold; prints the first failing check otherwise. */
#include <stdio.h>
#include <string.h>
#include "mcuforge/kernels.h"

#define EXPECT(expr, code)                                                       \
    do {                                                                         \
        int got_ = (expr);                                                       \
        if (got_ != (code)) {                                                    \
            printf("%s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__,    \
                   #expr, got_, (code));                                         \
            return 1;                                                            \
        }                                                                        \
    } while (0)

int main(void)
{
    int8_t in[64] = {0}, out[64];
    int8_t w[64] = {0};
    int32_t bias[4] = {0}, mult[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30}, shift[4] = {0};
    mf_conv_params conv;
    mf_fc_params fc;
    mf_pool_params pool;
    mf_mean_params mean;
    mf_add_params add;
    mf_softmax_params sm;

    memset(&conv, 0, sizeof conv);
    conv.input.n = conv.input.h = conv.input.w = 1;
    conv.input.c = 2;
    conv.filter.n = 2; conv.filter.h = conv.filter.w = 1; conv.filter.c = 2;
    conv.output = conv.input;
    conv.stride_h = conv.stride_w = conv.dilation_h = conv.dilation_w = 1;
    conv.depth_multiplier = 1;
    conv.act_min = -128; conv.act_max = 127;
    EXPECT(mf_conv2d_s8(&conv, in, w, bias, mult, shift, out), MF_OK);
    EXPECT(mf_conv2d_s8(NULL, in, w, bias, mult, shift, out), MF_ERR_NULL);
    EXPECT(mf_conv2d_s8(&conv, in, w, bias, mult, shift, NULL), MF_ERR_NULL);
    conv.stride_w = 0;
    EXPECT(mf_conv2d_s8(&conv, in, w, bias, mult, shift, out), MF_ERR_PARAM);
    conv.stride_w = 1;
    conv.filter.c = 3;
    EXPECT(mf_conv2d_s8(&conv, in, w, bias, mult, shift, out), MF_ERR_SHAPE);
    conv.filter.c = 2;
    conv.filter.n = 1; /* depthwise filter [1, kh, kw, out_c] */
    EXPECT(mf_depthwise_conv2d_s8(&conv, in, w, bias, mult, shift, out), MF_OK);
    conv.depth_multiplier = 2;
    EXPECT(mf_depthwise_conv2d_s8(&conv, in, w, bias, mult, shift, out), MF_ERR_SHAPE);
    conv.depth_multiplier = 1;
    conv.act_min = 10; conv.act_max = 5;
    EXPECT(mf_depthwise_conv2d_s8(&conv, in, w, bias, mult, shift, out), MF_ERR_PARAM);

    memset(&fc, 0, sizeof fc);
    fc.batches = 1; fc.accum_depth = 4; fc.output_depth = 2;
    fc.act_min = -128; fc.act_max = 127;
    EXPECT(mf_fully_connected_s8(&fc, in, w, NULL, mult, shift, out), MF_OK);
    EXPECT(mf_fully_connected_s8(&fc, in, NULL, NULL, mult, shift, out), MF_ERR_NULL);
    fc.accum_depth = 0;
    EXPECT(mf_fully_connected_s8(&fc, in, w, NULL, mult, shift, out), MF_ERR_SHAPE);

    memset(&pool, 0, sizeof pool);
    pool.input.n = 1; pool.input.h = 2; pool.input.w = 2; pool.input.c = 1;
    pool.output.n = 1; pool.output.h = 1; pool.output.w = 1; pool.output.c = 1;
    pool.filter_h = pool.filter_w = pool.stride_h = pool.stride_w = 2;
    pool.act_min = -128; pool.act_max = 127;
    EXPECT(mf_max_pool_s8(&pool, in, out), MF_OK);
    EXPECT(mf_avg_pool_s8(&pool, in, out), MF_OK);
    pool.filter_h = 0;
    EXPECT(mf_avg_pool_s8(&pool, in, out), MF_ERR_PARAM);
    EXPECT(mf_max_pool_s8(&pool, NULL, out), MF_ERR_NULL);

    memset(&mean, 0, sizeof mean);
    mean.dims[0] = mean.dims[1] = mean.dims[2] = 1; mean.dims[3] = 4;
    mean.reduce[3] = 1; mean.multiplier = 1 << 30; mean.shift = -2;
    EXPECT(mf_mean_s8(&mean, in, out), MF_OK);
    mean.dims[1] = 0;
    EXPECT(mf_mean_s8(&mean, in, out), MF_ERR_SHAPE);
    mean.dims[1] = 1; mean.shift = -40;
    EXPECT(mf_mean_s8(&mean, in, out), MF_ERR_PARAM);

    memset(&add, 0, sizeof add);
    add.out_dims[0] = add.out_dims[1] = add.out_dims[2] = 1; add.out_dims[3] = 4;
    add.in1_strides[3] = add.in2_strides[3] = 1; add.left_shift = 20;
    add.act_min = -128; add.act_max = 127;
    EXPECT(mf_add_s8(&add, in, in, out), MF_OK);
    EXPECT(mf_add_s8(&add, in, NULL, out), MF_ERR_NULL);
    add.left_shift = 31;
    EXPECT(mf_add_s8(&add, in, in, out), MF_ERR_PARAM);

    memset(&sm, 0, sizeof sm);
    sm.outer_size = 1; sm.depth = 4; sm.input_multiplier = 1 << 30; sm.input_left_shift = 20;
    sm.diff_min = -1000;
    EXPECT(mf_softmax_s8(&sm, in, out), MF_OK);
    sm.depth = 0;
    EXPECT(mf_softmax_s8(&sm, in, out), MF_ERR_SHAPE);
    puts("ok");
    return 0;
}
