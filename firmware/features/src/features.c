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
static float block_features[N_FEATURES];

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
static float standardize(float x, int feature)
{
    const int index = feature % MCUFORGE_FEATURES_N_SCALER;
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

/* quantize_input(standardize(x)) of every block feature, or the block's error status. */
static int model_input_of(int status, int8_t *model_input)
{
    int i;
    if (status != MCUFORGE_FEATURES_OK)
        return status;
    for (i = 0; i < N_FEATURES; ++i)
        model_input[i] = quantize_input(standardize(block_features[i], i));
    return MCUFORGE_FEATURES_OK;
}

/* quantize_input(standardize(x)) of `count` block features that start at feature index `first`: a
 * streaming caller quantises each frame of coefficients as it arrives (first = frame * N_COEFFS). */
int mcuforge_features_quantize(const float *features, int first, int count, int8_t *model_input)
{
    int i;
    if (features == NULL || model_input == NULL || first < 0 || count < 0 || first + count > N_FEATURES)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
    for (i = 0; i < count; ++i)
        model_input[i] = quantize_input(standardize(features[i], first + i));
    return MCUFORGE_FEATURES_OK;
}

/* quantize_input(standardize(compute_block(window))): the int8 model input of one window. */
int mcuforge_features(const float *window, int8_t *model_input)
{
    if (model_input == NULL)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
    return model_input_of(mcuforge_features_float(window, block_features), model_input);
}

#if MCUFORGE_FEATURES_BLOCK == MCUFORGE_FEATURES_BLOCK_MFCC
/* mcuforge_features from int16 PCM (window = pcm / 32768): no float copy of the clip. */
int mcuforge_features_pcm(const int16_t *pcm, int8_t *model_input)
{
    if (model_input == NULL)
        return MCUFORGE_FEATURES_ERROR_ARGUMENT;
    return model_input_of(mcuforge_mfcc_features_pcm(pcm, block_features), model_input);
}
#endif
