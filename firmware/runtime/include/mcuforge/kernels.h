/* mcuforge portable int8 kernel runtime: C99, no heap, no libm.
 * Every kernel equals a TFLite Micro reference kernel bit for bit; the
 * comment above each prototype names it. Kernels return MF_OK or a negative
 * MF_ERR_* code after checking their preconditions. Shapes are NHWC. */
#ifndef MCUFORGE_KERNELS_H
#define MCUFORGE_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_OK 0
#define MF_ERR_NULL (-1)   /* a required pointer is NULL */
#define MF_ERR_SHAPE (-2)  /* shapes are inconsistent */
#define MF_ERR_PARAM (-3)  /* a parameter is out of its valid range */

typedef struct {
    int32_t n, h, w, c;
} mf_shape4;

/* Convolution-style parameters shared by CONV_2D and DEPTHWISE_CONV_2D. */
typedef struct {
    mf_shape4 input, filter, output; /* filter: conv [out_c,kh,kw,in_c]; depthwise [1,kh,kw,out_c] */
    int32_t stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w;
    int32_t depth_multiplier;          /* depthwise only */
    int32_t input_offset, output_offset; /* -input_zp, +output_zp */
    int32_t act_min, act_max;
} mf_conv_params;

typedef struct {
    int32_t batches, accum_depth, output_depth;
    int32_t input_offset, weights_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel; /* 1: multiplier/shift arrays have output_depth entries */
} mf_fc_params;

typedef struct {
    mf_shape4 input, output;
    int32_t filter_h, filter_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} mf_pool_params;

typedef struct {
    int32_t dims[4];     /* input dims, left-padded with 1 to rank 4 */
    int32_t reduce[4];   /* 1 where the axis is reduced */
    int32_t input_zp, output_zp, multiplier, shift; /* QuantizedMeanOrSum, multiplier already divided by n */
} mf_mean_params;

typedef struct {
    int32_t out_dims[4];
    int32_t in1_strides[4], in2_strides[4]; /* element strides, 0 on broadcast axes */
    int32_t input1_offset, input2_offset, output_offset, left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} mf_add_params;

typedef struct {
    int32_t outer_size, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} mf_softmax_params;

/* tflite::reference_integer_ops::ConvPerChannel (groups == 1). */
int mf_conv2d_s8(const mf_conv_params *p, const int8_t *input, const int8_t *filter,
                 const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                 int8_t *output);

/* tflite::reference_integer_ops::DepthwiseConvPerChannel. */
int mf_depthwise_conv2d_s8(const mf_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                           int8_t *output);

/* tflite::reference_integer_ops::FullyConnected (per tensor) and
 * FullyConnectedPerChannel (per channel). */
int mf_fully_connected_s8(const mf_fc_params *p, const int8_t *input, const int8_t *weights,
                          const int32_t *bias, const int32_t *multiplier, const int32_t *shift,
                          int8_t *output);

/* The same two kernels over bitmap-compressed weights (zero weights skipped; layout in
 * src/sparse.c). Conv filters have at most MF_SPARSE_MAX_TAPS taps (filter_h x filter_w). */
#define MF_SPARSE_MAX_TAPS 64
int mf_conv2d_sparse_s8(const mf_conv_params *p, const int8_t *input, const uint32_t *bitmap,
                        const int8_t *values, const int32_t *start, const int16_t *k_offset,
                        const uint8_t *k_tap, const int32_t *bias, const int32_t *multiplier,
                        const int32_t *shift, int8_t *output);
int mf_fully_connected_sparse_s8(const mf_fc_params *p, const int8_t *input, const uint32_t *bitmap,
                                 const int8_t *values, const int32_t *start, const int32_t *bias,
                                 const int32_t *multiplier, const int32_t *shift, int8_t *output);

/* tflite::reference_integer_ops::MaxPool. */
int mf_max_pool_s8(const mf_pool_params *p, const int8_t *input, int8_t *output);

/* tflite::reference_integer_ops::AveragePool. */
int mf_avg_pool_s8(const mf_pool_params *p, const int8_t *input, int8_t *output);

/* tflite::reference_ops::QuantizedMeanOrSum<int8_t,int32_t>(compute_sum=false). The
 * tflite_micro build measured here uses it even when input and output quantisation are equal. */
int mf_mean_s8(const mf_mean_params *p, const int8_t *input, int8_t *output);

/* tflite::reference_integer_ops::Add / BroadcastAdd6DSlow (AddFunc per element). */
int mf_add_s8(const mf_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* tflite::reference_ops::Softmax (quantized, gemmlowp fixed point), int8 -> int8. */
int mf_softmax_s8(const mf_softmax_params *p, const int8_t *input, int8_t *output);

/* Byte copy without libc (used for input/output hand-over). */
void mf_copy_s8(int8_t *dst, const int8_t *src, int32_t count);

#ifdef __cplusplus
}
#endif

#endif /* MCUFORGE_KERNELS_H */
