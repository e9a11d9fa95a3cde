/* The feature twin's entry points: block -> standardisation -> int8 quantisation.
 * Compile with -ffp-contract=off: every float expression here is one IEEE float32 operation
 * per numpy operation of the Python function it transcribes.
 * Constants: mcuforge_features_config.h (mcuforge.codegen.emit_features).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcuforge_features_config.h"
#include "mcuforge/features.h"
#include "mfcc.h"
#include "spectral.h"

#define N_FEATURES MCUFORGE_FEATURES_N_FEATURES

static const float scaler_mean[MCUFORGE_FEATURES_N_SCALER] = MCUFORGE_FEATURES_SCALER_MEAN;
static const float scaler_std[MCUFORGE_FEATURES_N_SCALER] = MCUFORGE_FEATURES_SCALER_STD;
#if MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_SPECTRAL || MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_MFCC
static float block_features[N_FEATURES]; /* raw: the window is the block output */
#endif

/* mcuforge.dsp.feature_blocks.compute_block for one window: the window itself (raw),
 * mcuforge.dsp.spectral.spectral_features (spectral) or mcuforge.dsp.mfcc.mfcc_features (mfcc). */
int mcuforge_features_float(const float *window, float *features)
{
    if (window == NULL || features == NULL)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
#if MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_SPECTRAL
    return mcuforge_spectral_features(window, features);
#elif MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_MFCC
    return mcuforge_mfcc_features(window, features);
#else
    memcpy(features, window, sizeof(float) * N_FEATURES);
    return MCUFORGE_FEATURES_OK;
#endif
}

/* mcuforge.data.normalization.standardize: (x - mean) / std in float32 over the last axis of the
 * block's output: feature i uses entry i % N_SCALER (per channel of the row-major raw window, per
 * coefficient of the frames x coefficients mfcc output, per feature for spectral). */
static float standardize(float x, int index)
{
    return (x - scaler_mean[index]) / scaler_std[index];
}

/* mcuforge.codegen.tflm_runtime.quantize_input: x / scale in float32, round half away from zero
 * (sign(s) * floor(|s| + 0.5) in float32), + zero point, saturate to int8. */
static int8_t quantize_input(float x)
{
    const float scale = MCUFORGE_FEATURES_INPUT_SCALE;
    const float scaled = x / scale;
    float rounded = floorf(fabsf(scaled) + 0.5f);
    float shifted;
    if (scaled < 0.0f)
        rounded = -rounded;
    shifted = rounded + (float)MCUFORGE_FEATURES_INPUT_ZERO_POINT;
    if (shifted < -128.0f)
        shifted = -128.0f;
    if (shifted > 127.0f)
        shifted = 127.0f;
    return (int8_t)shifted;
}

/* Without an FPU (soft-float Cortex-M0+/M3, RV32IMC) the two float divisions above cost hundreds of
 * instructions per feature: when the header has mcuforge.codegen.input_table's thresholds,
 * quantize_input(standardize(x)) is a binary search of integer compares instead (same int8 by
 * construction; a NaN, outside the table, takes the float path). */
#if defined(MCUFORGE_FEATURES_INPUT_TABLE) && \
    (defined(MCUFORGE_FEATURES_FORCE_TABLE) || (defined(__arm__) && !defined(__ARM_FP)) || \
     (defined(__riscv) && !defined(__riscv_flen)))
#define USE_INPUT_TABLE 1
static const int32_t input_table[MCUFORGE_FEATURES_N_SCALER * 256] = MCUFORGE_FEATURES_INPUT_TABLE;

/* -128 + #{j >= 1: row[j] <= key(x)}, key(x) the int32 whose signed order is x's float order
 * (mcuforge.codegen.input_table.lookup); x not NaN. */
static int8_t quantize_by_table(const int32_t *row, int32_t bits)
{
    const int32_t k = bits ^ (int32_t)((uint32_t)(bits >> 31) >> 1); /* bits < 0: flip the magnitude */
    const int32_t *p = row;
    if (p[128] <= k) p += 128;
    if (p[64] <= k) p += 64;
    if (p[32] <= k) p += 32;
    if (p[16] <= k) p += 16;
    if (p[8] <= k) p += 8;
    if (p[4] <= k) p += 4;
    if (p[2] <= k) p += 2;
    if (p[1] <= k) p += 1;
    return (int8_t)((p - row) - 128);
}
#endif

/* quantize_input(standardize(x)) for scaler entry `index`. */
static int8_t model_input_value(float x, int index)
{
#if defined(USE_INPUT_TABLE)
    union { float f; int32_t i; } u;
    u.f = x;
    if ((u.i & 0x7FFFFFFF) <= 0x7F800000) /* not NaN */
        return quantize_by_table(input_table + 256 * index, u.i);
#endif
    return quantize_input(standardize(x, index));
}

/* model_input[i] = quantize_input(standardize(features[i])) for `count` features, the first one
 * being feature number `first` (its scaler entry first % N_SCALER; one division, not one each). */
static void quantize_features(const float *features, int first, int count, int8_t *model_input)
{
    int i, index = first % MCUFORGE_FEATURES_N_SCALER;
    for (i = 0; i < count; ++i) {
        model_input[i] = model_input_value(features[i], index);
        if (++index == MCUFORGE_FEATURES_N_SCALER)
            index = 0;
    }
}

/* quantize_input(standardize(x)) of every block feature, or the block's error status. */
static int model_input_of(int status, const float *features, int8_t *model_input)
{
    if (status != MCUFORGE_FEATURES_OK)
        return status;
    quantize_features(features, 0, N_FEATURES, model_input);
    return MCUFORGE_FEATURES_OK;
}

/* quantize_input(standardize(x)) of `count` block features that start at feature index `first`: a
 * streaming caller quantises each frame of coefficients as it arrives (first = frame * N_COEFFS). */
int mcuforge_features_quantize(const float *features, int first, int count, int8_t *model_input)
{
    if (features == NULL || model_input == NULL || first < 0 || count < 0 || first + count > N_FEATURES)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
    quantize_features(features, first, count, model_input);
    return MCUFORGE_FEATURES_OK;
}

/* quantize_input(standardize(compute_block(window))): the int8 model input of one window. */
int mcuforge_features(const float *window, int8_t *model_input)
{
    if (model_input == NULL)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
#if MCUFORGE_FEATURES_BLOCK != MCUFORGE_FEATURES_BLOCK_SPECTRAL && MCUFORGE_FEATURES_BLOCK != MCUFORGE_FEATURES_BLOCK_MFCC
    /* raw: the block output is the window itself, quantised where it lies */
    return model_input_of(window == NULL ? MCUFORGE_FEATURES_ERROR_ARGUMENT : MCUFORGE_FEATURES_OK, window,
                          model_input);
#else
    return model_input_of(mcuforge_features_float(window, block_features), block_features, model_input);
#endif
}

#if MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_MFCC
/* mcuforge_features from int16 PCM (window = pcm / 32768): no float copy of the clip. */
int mcuforge_features_pcm(const int16_t *pcm, int8_t *model_input)
{
    if (model_input == NULL)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
    return model_input_of(mcuforge_mfcc_features_pcm(pcm, block_features), block_features, model_input);
}
#endif
